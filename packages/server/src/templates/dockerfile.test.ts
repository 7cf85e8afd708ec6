/** Unit tests of the Dockerfile parser: each instruction, variable expansion, start commands and every refusal. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../errors.js';
import { parseDockerfile, type ParseDockerfileOpts } from './dockerfile.js';

const CTX = { contextHash: 'a'.repeat(64) };
const parse = (lines: string[], opts: ParseDockerfileOpts = CTX) => parseDockerfile(lines.join('\n'), opts);

function refuses(lines: string[], re: RegExp, opts: ParseDockerfileOpts = CTX) {
  assert.throws(
    () => parse(lines, opts),
    (err: unknown) => {
      assert.ok(err instanceof ApiError, `not an ApiError: ${err}`);
      assert.equal(err.kind, 'invalid_argument');
      assert.match(err.message, re);
      return true;
    },
  );
}

describe('parseDockerfile: ' + 'FROM', () => {
  it('takes the first stage, ' + 'with or without AS', () => {
    assert.deepEqual(parse(['FROM ubuntu:24.04']), { from: 'ubuntu:24.04', steps: [] });
    assert.equal(parse(['from default AS base']).from, 'default');
    assert.equal(parse(['FROM default as base']).from, 'default');
  });
  it('refuses multi-stage ' + 'builds, naming the line', () => {
    refuses(['FROM a AS build', 'RUN make', 'FROM b'], /^Dockerfile line 3: .*multi-stage/);
    refuses(['FROM a', 'COPY --from=build /x /y'], /^Dockerfile line 2: .*--from.*multi-stage/);
  });
  it('refuses a Dockerfile without FROM, ' + 'instructions before FROM and FROM flags', () => {
    refuses([], /no FROM/);
    refuses(['# only a comment'], /no FROM/);
    refuses(['RUN true', 'FROM a'], /^Dockerfile line 1: RUN before FROM/);
    refuses(['FROM --platform=linux/arm64 a'], /line 1: FROM --platform is not supported/);
    refuses(['FROM a b'], /line 1: .*AS <name>/);
  });
  it('expands ARGs ' + 'declared before FROM', () => {
    assert.equal(parse(['ARG BASE=ubuntu', 'ARG TAG=24.04', 'FROM ${BASE}:$TAG']).from, 'ubuntu:24.04');
    assert.equal(parse(['ARG BASE=ubuntu', 'FROM $BASE'], { buildArgs: { BASE: 'debian' } }).from, 'debian');
    refuses(['FROM $NOPE'], /line 1: .*not defined/);
  });
});

describe('parseDockerfile: ' + 'RUN', () => {
  it('keeps the shell form as ' + 'written and quotes the exec form', () => {
    const { steps } = parse(['FROM default', 'RUN echo "$HOME" && ls', 'RUN ["echo", "hello world", "it\'s"]']);
    assert.deepEqual(steps, [
      { type: 'RUN', args: ['echo "$HOME" && ls'] },
      { type: 'RUN', args: [`echo 'hello world' 'it'\\''s'`] },
    ]);
  });
  it('joins continuation lines and ' + 'skips comments inside them', () => {
    const { steps } = parse([
      'FROM default',
      'RUN apt-get update && \\',
      '    # a comment',
      '    apt-get install -y curl \\  ',
      '',
      '  && true',
      'USER root',
    ]);
    assert.deepEqual(steps[0], { type: 'RUN', args: ['apt-get update &&     apt-get install -y curl   && true'] });
    assert.deepEqual(steps[1], { type: 'USER', args: ['root'] });
  });
  it('exports the ARGs in scope ' + '(ENV of the same name wins)', () => {
    const { steps } = parse([
      'FROM default',
      'ARG DEBIAN_FRONTEND=noninteractive',
      'ARG EMPTY',
      'ARG V="1 2"',
      'RUN apt-get install -y tzdata',
      'ENV V=env',
      'RUN echo $V',
    ]);
    assert.deepEqual(steps[0], {
      type: 'RUN',
      args: [`export DEBIAN_FRONTEND=noninteractive V='1 2'; apt-get install -y tzdata`],
    });
    assert.deepEqual(steps[2], { type: 'RUN', args: ['export DEBIAN_FRONTEND=noninteractive; echo $V'] });
  });
  it('refuses heredocs, RUN ' + 'flags and an empty RUN', () => {
    refuses(['FROM default', '', 'RUN <<EOF', 'echo hi', 'EOF'], /^Dockerfile line 3: .*heredocs/);
    refuses(['FROM default', 'RUN cat > /f <<-"END"', 'x', 'END'], /line 2: .*heredocs/);
    refuses(
      ['FROM default', 'RUN --mount=type=cache,target=/root/.cache pip install x'],
      /line 2: RUN --mount is not supported/,
    );
    refuses(['FROM default', 'RUN'], /line 2: RUN needs a command/);
  });
  it('leaves ' + 'here-strings alone', () => {
    assert.deepEqual(parse(['FROM default', 'RUN cat <<< hi']).steps, [{ type: 'RUN', args: ['cat <<< hi'] }]);
  });
});

describe('parseDockerfile: ' + 'ENV, ARG and expansion', () => {
  it('reads key=value pairs (quoted, ' + 'escaped) and the legacy form', () => {
    const { steps } = parse([
      'FROM default',
      'ENV A=1 B="two words" C=three\\ words',
      "ENV D='$A literal'",
      'ENV LEGACY hello  big world',
    ]);
    assert.deepEqual(steps, [
      { type: 'ENV', args: ['A', '1', 'B', 'two words', 'C', 'three words'] },
      { type: 'ENV', args: ['D', '$A literal'] },
      { type: 'ENV', args: ['LEGACY', 'hello  big world'] },
    ]);
  });
  it('expands $VAR, ${VAR}, ${VAR:-default} ' + 'and ${VAR:+alt} from ARG and earlier ENV', () => {
    const { steps } = parse([
      'FROM default',
      'ARG VERSION=1.2',
      'ARG UNSET',
      'ENV ROOT=/opt/app-$VERSION',
      'ENV BIN=${ROOT}/bin X=${UNSET:-fallback} Y=${VERSION:+has-version} Z=${UNSET:+no} W="${ROOT}"',
      'ENV SAME=1 SEE=$SAME',
    ]);
    assert.deepEqual(steps[0].args, ['ROOT', '/opt/app-1.2']);
    assert.deepEqual(steps[1].args, [
      'BIN',
      '/opt/app-1.2/bin',
      'X',
      'fallback',
      'Y',
      'has-version',
      'Z',
      '',
      'W',
      '/opt/app-1.2',
    ]);
    // Values of one ENV see the environment from before it (Docker's rule): SAME is not defined yet.
    assert.deepEqual(steps[2].args, ['SAME', '1', 'SEE', '$SAME']);
  });
  it('leaves variables it does not know ' + '(from the base environment) as written', () => {
    const { steps } = parse(['FROM default', 'ENV PATH=/opt/bin:$PATH', 'ENV P2=${PATH}:/x', 'ENV Q=${HOME:-/root}']);
    assert.deepEqual(steps[0].args, ['PATH', '/opt/bin:$PATH']);
    // PATH is known now (set by the ENV above).
    assert.deepEqual(steps[1].args, ['P2', '/opt/bin:$PATH:/x']);
    assert.deepEqual(steps[2].args, ['Q', '${HOME:-/root}']);
  });
  it('with baseEnv, expands the base environment ' + 'and makes unknown variables empty (as Docker)', () => {
    const baseEnv = { PATH: '/usr/bin:/bin', HOME: '/home/user', DEBIAN_FRONTEND: 'dialog' };
    const { steps } = parse(
      [
        'FROM default',
        'ARG DEBIAN_FRONTEND=noninteractive',
        'ARG V=1',
        'ENV PATH=/opt/bin:$PATH',
        'ENV A=${NOPE}x B=${NOPE:-d} C=$HOME',
        'RUN true',
      ],
      { ...CTX, baseEnv },
    );
    assert.deepEqual(steps[0].args, ['PATH', '/opt/bin:/usr/bin:/bin']);
    assert.deepEqual(steps[1].args, ['A', 'x', 'B', 'd', 'C', '/home/user']);
    // The base's ENV wins over an ARG of the same name in RUN, as in Docker.
    assert.deepEqual(steps[2].args, ['export V=1; true']);
  });
  it('lets buildArgs override ARG ' + 'defaults and ignores undeclared ones', () => {
    const { steps } = parse(['FROM default', 'ARG A=default', 'ARG B', 'ENV A=$A B=$B C=$C'], {
      ...CTX,
      buildArgs: { A: 'given', B: 'b', C: 'ignored' },
    });
    assert.deepEqual(steps[0].args, ['A', 'given', 'B', 'b', 'C', '$C']);
  });
  it('gives a global ARG re-declared ' + 'after FROM its value', () => {
    const { steps } = parse(['ARG V=9', 'FROM default', 'ENV A=$V', 'ARG V', 'ENV B=$V']);
    assert.deepEqual(steps[0].args, ['A', '$V']); // not in scope until re-declared
    assert.deepEqual(steps[1].args, ['B', '9']);
  });
  it('takes several ' + 'ARGs on one line', () => {
    const { steps } = parse(['FROM default', 'ARG A=1 B=2', 'ENV AB=$A$B']);
    assert.deepEqual(steps[0].args, ['AB', '12']);
  });
  it('refuses malformed ENV, ' + 'ARG and substitutions', () => {
    refuses(['FROM default', 'ENV'], /line 2: ENV needs/);
    refuses(['FROM default', 'ENV A'], /line 2: ENV A needs a value/);
    refuses(['FROM default', 'ENV A=1 B'], /line 2: ENV expects key=value/);
    refuses(['FROM default', 'ENV A="unterminated'], /line 2: ENV: unterminated double quote/);
    refuses(['FROM default', 'ARG 1X=2'], /line 2: invalid ARG name/);
    refuses(['FROM default', 'ARG V=1', 'ENV A=${V%%.*}'], /line 3: ENV: unsupported substitution/);
    refuses(['FROM default', 'ENV A=${V'], /line 2: ENV: missing '}'/);
  });
});

describe('parseDockerfile: ' + 'WORKDIR and USER', () => {
  it('expands and resolves relative ' + 'directories against the previous WORKDIR', () => {
    const { steps } = parse([
      'FROM default',
      'ARG APP=app',
      'WORKDIR /srv/',
      'WORKDIR $APP',
      'WORKDIR ../x y',
      'USER ${APP}',
      'USER 1000',
    ]);
    assert.deepEqual(steps, [
      { type: 'WORKDIR', args: ['/srv'] },
      { type: 'WORKDIR', args: ['/srv/app'] },
      { type: 'WORKDIR', args: ['/srv/x y'] },
      { type: 'USER', args: ['app'] },
      { type: 'USER', args: ['1000'] },
    ]);
  });
  it('refuses an empty or first relative WORKDIR ' + 'and USER with several words or a group', () => {
    refuses(['FROM default', 'WORKDIR'], /line 2: WORKDIR needs a path/);
    refuses(['FROM default', 'WORKDIR app'], /line 2: WORKDIR app: a relative path needs an earlier absolute WORKDIR/);
    refuses(['FROM default', 'USER a b'], /line 2: USER expects one user/);
    refuses(['FROM default', 'USER app:users'], /line 2: USER app:users: a group is not supported/);
  });
});

describe('parseDockerfile: ' + 'COPY and ADD', () => {
  it('makes one COPY step per source with [src, ' + 'dest, user, mode] and the context hash', () => {
    const { steps } = parse([
      'FROM default',
      'WORKDIR /app',
      'ARG OWNER=user',
      'COPY --chown=$OWNER:$OWNER --chmod=0755 a.sh ./b/ /opt/',
      'COPY ["with space.txt", "rel/"]',
      'ADD --link ./c.txt .',
    ]);
    const h = CTX.contextHash;
    assert.deepEqual(steps.slice(1), [
      { type: 'COPY', args: ['a.sh', '/opt/', 'user:user', '0755'], filesHash: h },
      { type: 'COPY', args: ['b', '/opt/', 'user:user', '0755'], filesHash: h },
      { type: 'COPY', args: ['with space.txt', '/app/rel/', '', ''], filesHash: h },
      { type: 'COPY', args: ['c.txt', '/app', '', ''], filesHash: h },
    ]);
  });
  it('needs a ' + 'build context', () => {
    refuses(['FROM default', 'RUN true', 'COPY a /a'], /^Dockerfile line 3: COPY needs a build context/, {});
    refuses(['FROM default', 'ADD a /a'], /^Dockerfile line 2: ADD needs a build context/, {});
  });
  it('refuses URLs, archives, sources ' + 'outside the context and bad modes', () => {
    refuses(['FROM default', 'ADD https://example.com/x.bin /x'], /line 2: ADD of a URL .* not supported/);
    refuses(['FROM default', 'COPY http://example.com/x /x'], /line 2: COPY cannot fetch a URL/);
    refuses(
      ['FROM default', 'ADD rootfs.tar.gz /'],
      /line 2: ADD of a local archive \(rootfs\.tar\.gz\) is not supported: it would not be extracted; use COPY and RUN tar/,
    );
    refuses(['FROM default', 'COPY ../secret /x'], /line 2: \.\.\/secret is outside the build context/);
    refuses(['FROM default', 'COPY --chmod=u+x a /a'], /line 2: --chmod=u\+x/);
    refuses(['FROM default', 'COPY --exclude=*.md . /a'], /line 2: COPY --exclude is not supported/);
    refuses(['FROM default', 'COPY a b /dir'], /line 2: .*must be a directory ending in \//);
    refuses(['FROM default', 'COPY *.txt /dir'], /line 2: .*ending in \//);
    refuses(['FROM default', 'COPY onlyone'], /line 2: COPY expects at least one source/);
    refuses(['FROM default', 'COPY <<EOF /f', 'hi', 'EOF'], /line 2: heredocs/);
  });
  it('keeps plain ADD of a file like COPY and strips a leading / from sources', () => {
    assert.deepEqual(parse(['FROM default', 'ADD /data.csv.gz /d/']).steps, [
      { type: 'COPY', args: ['data.csv.gz', '/d/', '', ''], filesHash: CTX.contextHash },
    ]);
    // Before any WORKDIR a relative destination stays relative: the build resolves it against the base's directory.
    assert.deepEqual(parse(['FROM default', 'COPY . rel/']).steps, [
      { type: 'COPY', args: ['.', 'rel/', '', ''], filesHash: CTX.contextHash },
    ]);
  });
});

describe('parseDockerfile: CMD and ENTRYPOINT', () => {
  const start = (...lines: string[]) => parse(['FROM default', ...lines]).startCmd;
  it('takes shell form as is and quotes exec form', () => {
    assert.equal(start('CMD python3 -m http.server 8000'), 'python3 -m http.server 8000');
    assert.equal(start('CMD ["node", "/app/my server.js"]'), `node '/app/my server.js'`);
    assert.equal(start('CMD ["first"]', 'CMD ["last"]'), 'last');
    assert.equal(start(), undefined);
    assert.equal(start('CMD []'), undefined);
  });
  it('combines ENTRYPOINT and CMD as Docker does', () => {
    assert.equal(start('ENTRYPOINT ["/entry.sh"]', 'CMD ["--port", "80"]'), '/entry.sh --port 80');
    assert.equal(start('CMD ["--port", "80"]', 'ENTRYPOINT ["/entry.sh"]'), '/entry.sh --port 80');
    assert.equal(start('ENTRYPOINT ["/entry.sh"]', 'CMD serve --all'), `/entry.sh /bin/sh -c 'serve --all'`);
    assert.equal(start('ENTRYPOINT /entry.sh run', 'CMD ["ignored"]'), '/entry.sh run');
    assert.equal(start('ENTRYPOINT ["tini", "--"]'), 'tini --');
  });
  it('does not expand variables in CMD', () => {
    assert.equal(start('ARG A=1', 'CMD echo $A'), 'echo $A');
  });
});

describe('parseDockerfile: other instructions and syntax', () => {
  it('ignores LABEL, EXPOSE, STOPSIGNAL, MAINTAINER and HEALTHCHECK NONE', () => {
    const r = parse([
      'FROM default',
      'LABEL a=b',
      'EXPOSE 8000/tcp',
      'STOPSIGNAL SIGTERM',
      'MAINTAINER me',
      'HEALTHCHECK NONE',
    ]);
    assert.deepEqual(r.steps, []);
  });
  it('refuses SHELL, VOLUME, ONBUILD, HEALTHCHECK CMD and unknown instructions', () => {
    refuses(['FROM default', 'SHELL ["/bin/bash", "-c"]'], /line 2: SHELL is not supported/);
    refuses(['FROM default', 'VOLUME /data'], /line 2: VOLUME is not supported/);
    refuses(['FROM default', 'ONBUILD RUN x'], /line 2: ONBUILD is not supported/);
    refuses(['FROM default', 'HEALTHCHECK CMD curl -f localhost'], /line 2: HEALTHCHECK is not supported; .*readyCmd/);
    refuses(['FROM default', 'FETCH x'], /line 2: unknown instruction 'FETCH' is not supported/);
  });
  it('counts lines through comments, blank lines, continuations and CRLF', () => {
    refuses(
      ['# syntax=docker/dockerfile:1', '', '# comment', 'FROM default', 'RUN a \\', '  b', 'VOLUME /x'],
      /^Dockerfile line 7:/,
    );
    refuses(['FROM default\r', 'RUN ok\r', 'VOLUME /x\r'], /^Dockerfile line 3:/);
  });
  it('honours the escape directive', () => {
    const { steps } = parse(['# escape=`', 'FROM default', 'RUN echo a `', '  b', 'ENV P=C:\\dir W=x` y']);
    assert.deepEqual(steps, [
      { type: 'RUN', args: ['echo a   b'] },
      { type: 'ENV', args: ['P', 'C:\\dir', 'W', 'x y'] },
    ]);
    refuses(['# escape=x', 'FROM default'], /^Dockerfile line 1: invalid escape character/);
  });
  it('treats a directive after a comment as a comment', () => {
    const { steps } = parse(['# hello', '# escape=`', 'FROM default', 'RUN a \\', 'b']);
    assert.deepEqual(steps, [{ type: 'RUN', args: ['a b'] }]);
  });
});
