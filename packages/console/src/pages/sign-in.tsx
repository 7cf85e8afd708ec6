/** Sign-in: the API key the server printed at its first start; checked against the API before it is kept. */
import { useState, type FormEvent } from 'react';
import { checkApiKey, signIn } from '../lib/auth';
import { ErrorMessage } from '../components/ui';
import { Icon } from '../components/icons';

export function SignIn() {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await checkApiKey(key.trim());
      signIn(key.trim());
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <form className="signin-card" onSubmit={submit}>
        <div className="signin-brand">
          <img src="/favicon.svg" alt="" width={40} height={40} />
          <h1>Tensor Box</h1>
          <p className="muted">Sign in to the console of {location.host}</p>
        </div>
        <label className="field">
          <span>API key</span>
          <div className="input-icon">
            <Icon name="key" />
            <input
              name="apiKey"
              type="password"
              autoComplete="current-password"
              placeholder="e2b_…"
              value={key}
              onChange={(e) => setKey(e.target.value)}
              autoFocus
              required
            />
          </div>
        </label>
        <ErrorMessage error={error} />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy || !key.trim()}>
          {busy && <span className="spinner" />}
          <span>Sign in</span>
        </button>
        <p className="hint muted">
          <code>npm start</code> prints the key on the server&rsquo;s first start (or set{' '}
          <code>TENSOR_BOX_API_KEY</code>). It is kept in this browser only.
        </p>
      </form>
    </div>
  );
}
