package tensorbox_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	tensorbox "github.com/tensor-box/tensor-box/sdks/go"
)

// Create a sandbox, run a command, write and read a file. Domain and key come from TENSOR_BOX_DOMAIN and
// TENSOR_BOX_API_KEY.
func Example() {
	ctx := context.Background()
	sbx, err := tensorbox.Create(ctx, "default", &tensorbox.CreateOptions{Timeout: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer sbx.Kill(context.Background())

	r, err := sbx.Commands.Run(ctx, "echo hello", nil)
	var exit *tensorbox.CommandExitError
	if errors.As(err, &exit) {
		log.Fatalf("exit %d: %s", exit.ExitCode, exit.Stderr)
	}
	fmt.Print(r.Stdout)

	sbx.Files.WriteString(ctx, "/home/user/hello.txt", "Hello World!", nil)
	if _, err := sbx.Files.Read(ctx, "/home/user/missing.txt", nil); errors.Is(err, tensorbox.ErrNotFound) {
		fmt.Println("missing")
	}
}

// An interactive terminal whose output goes to stdout.
func ExamplePty_Create() {
	ctx := context.Background()
	sbx, _ := tensorbox.Connect(ctx, "sbx_abc123", nil)
	pty, err := sbx.Pty.Create(
		ctx,
		&tensorbox.PtyOptions{Cols: 120, Rows: 40, OnData: func(b []byte) { os.Stdout.Write(b) }},
	)
	if err != nil {
		log.Fatal(err)
	}
	pty.SendInput([]byte("ls -la\n"))
	pty.Resize(200, 50)
	pty.Kill()
}

// Watch a directory recursively until Stop.
func ExampleFiles_WatchDir() {
	ctx := context.Background()
	sbx, _ := tensorbox.Connect(ctx, "sbx_abc123", nil)
	w, err := sbx.Files.WatchDir(ctx, "/home/user/project", func(ev tensorbox.WatchEvent) {
		fmt.Println(ev.Type, ev.Path)
	}, &tensorbox.WatchOptions{Recursive: true})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
}

// Build a template from default with a step, wait for it, and start a sandbox from it by name.
func ExampleCreateTemplate() {
	ctx := context.Background()
	created, err := tensorbox.CreateTemplate(
		ctx,
		&tensorbox.TemplateCreateOptions{Name: "agent-runtime", CPUCount: 2, MemoryMB: 2048},
		nil,
	)
	if err != nil {
		log.Fatal(err)
	}
	err = tensorbox.StartBuild(ctx, created.TemplateID, created.BuildID, &tensorbox.TemplateBuildOptions{
		FromTemplate: "default",
		Steps:        []tensorbox.TemplateBuildStep{{Name: "deps", Command: "pip install numpy"}},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	_, err = tensorbox.WaitForBuild(ctx, created.TemplateID, created.BuildID, &tensorbox.WaitOptions{
		OnLog: func(e tensorbox.BuildLogEntry) { fmt.Println(e.Message) },
	})
	var be *tensorbox.BuildError
	if errors.As(err, &be) {
		log.Fatalf("step %q failed with exit code %d", be.Reason.Step, be.Reason.ExitCode)
	}
	sbx, _ := tensorbox.Create(ctx, "agent-runtime", nil)
	defer sbx.Kill(ctx)
}

// Turn a running sandbox into a template (it keeps running) and start another sandbox from it.
func ExampleSandbox_CommitAsTemplate() {
	ctx := context.Background()
	sbx, _ := tensorbox.Create(ctx, "default", nil)
	sbx.Commands.Run(ctx, "pip install numpy", nil)
	tpl, err := sbx.CommitAsTemplate(ctx, "with-numpy", &tensorbox.CommitOptions{MemoryMB: 4096})
	if err != nil {
		log.Fatal(err)
	}
	sbx2, _ := tensorbox.Create(ctx, tpl.TemplateID, nil)
	defer sbx2.Kill(ctx)
}
