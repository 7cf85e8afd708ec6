// Package tensorbox is the Go SDK of Tensor Box, a self-hostable, E2B-compatible sandbox platform.
//
// A [Sandbox] is created from a template ([Create]) or re-attached by ID ([Connect]); it composes
// [Files] (the sandbox's filesystem), [Commands] (shell commands) and [Pty] (interactive terminals). Control-plane
// calls go to the REST API at [Options.Domain]; calls to the agent inside the sandbox (envd) go through the same
// server, routed by the E2b-Sandbox-Id / E2b-Sandbox-Port headers, so one URL is all a client needs.
//
// Every error the SDK returns is a [*SandboxError] (or wraps one); test its kind with errors.Is:
//
//	sbx, err := tensorbox.Create(ctx, "default", &tensorbox.CreateOptions{Timeout: time.Minute})
//	if errors.Is(err, tensorbox.ErrNotFound) { /* no such template */ }
//	defer sbx.Kill(context.Background())
//	r, err := sbx.Commands.Run(ctx, "echo hello", nil) // r.Stdout == "hello\n"
package tensorbox
