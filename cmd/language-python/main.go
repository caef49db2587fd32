// Command pulumi-language-python is autocloud's own Python language host for the Pulumi engine.
//
// The upstream host lives in a Go module the module proxy does not serve, so autocloud ships this
// small one. It does what the engine needs to run Python programs and Python policy packs:
//
//   - Run: runs the program through the SDK's pulumi-language-python-exec script (installed next to
//     this binary), with the program's config in PULUMI_CONFIG as the Python SDK expects.
//   - RunPlugin: runs a Python policy pack (`python -m pulumi.policy`) or a Python provider and
//     streams its output back to the engine.
//   - GetPluginInfo, About: report versions.
//
// Everything else answers Unimplemented, which the engine treats as "older host" and works around.
// Python is taken from the `virtualenv` runtime option (relative to the project or pack root), else
// PULUMI_PYTHON_CMD, else python3 on PATH.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

// exitCodeUserActionable is what the exec script returns after it has already shown the user a message.
const exitCodeUserActionable = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execScript    string
}

func main() {
	args := os.Args[1:]
	// The engine passes flags first and its own address last; we need only the address.
	engineAddress := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			engineAddress = a
		}
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	h := &host{
		engineAddress: engineAddress,
		execScript:    filepath.Join(filepath.Dir(self), "pulumi-language-python-exec"),
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fail(err)
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

// python resolves the interpreter for a program or pack rooted at root with runtime options opts.
func python(root string, opts map[string]any) (string, error) {
	if venv, ok := opts["virtualenv"].(string); ok && venv != "" {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(root, venv)
		}
		bin := filepath.Join(venv, "bin", "python")
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("the virtualenv %s has no bin/python: create it first (make venv)", venv)
		}
		return bin, nil
	}
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		return cmd, nil
	}
	return exec.LookPath("python3")
}

func programInfo(info *pulumirpc.ProgramInfo) (root, dir, entry string, opts map[string]any) {
	opts = map[string]any{}
	if info == nil {
		return "", "", ".", opts
	}
	if info.Options != nil {
		opts = info.Options.AsMap()
	}
	entry = info.EntryPoint
	if entry == "" {
		entry = "."
	}
	return info.RootDirectory, info.ProgramDirectory, entry, opts
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	root, dir, entry, opts := programInfo(req.Info)
	if dir == "" {
		dir = req.Pwd
	}
	if root == "" {
		root = dir
	}
	py, err := python(root, opts)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	// A stack without config sends nil maps; the SDK wants "{}" and "[]", not "null".
	if req.Config == nil {
		req.Config = map[string]string{}
	}
	if req.ConfigSecretKeys == nil {
		req.ConfigSecretKeys = []string{}
	}
	cfg, err := json.Marshal(req.Config)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(req.ConfigSecretKeys)
	if err != nil {
		return nil, err
	}

	args := []string{"-u", h.execScript,
		"--monitor", req.MonitorAddress,
		"--engine", h.engineAddress,
		"--project", req.Project,
		"--stack", req.Stack,
		"--pwd", req.Pwd,
		"--root_directory", root,
		"--organization", req.Organization,
	}
	if req.DryRun {
		args = append(args, "--dry_run", "true")
	}
	if req.Parallel > 0 {
		args = append(args, "--parallel", strconv.Itoa(int(req.Parallel)))
	}
	args = append(args, filepath.Join(dir, entry))
	args = append(args, req.Args...)

	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Dir = req.Pwd
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(),
		"PULUMI_CONFIG="+string(cfg),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
		"PULUMI_PROJECT="+req.Project,
		"PULUMI_STACK="+req.Stack,
		"PULUMI_ORGANIZATION="+req.Organization,
		"PULUMI_DRY_RUN="+strconv.FormatBool(req.DryRun),
		"PULUMI_MONITOR="+req.MonitorAddress,
		"PULUMI_ENGINE="+h.engineAddress,
	)
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr):
		if status, ok := exitErr.Sys().(syscall.WaitStatus); ok && status.ExitStatus() == exitCodeUserActionable {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("python program exited: %v", err)}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start %s: %v", py, err)}, nil
	}
}

func (h *host) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	root, dir, entry, opts := programInfo(req.Info)
	if root == "" {
		root = dir
	}
	py, err := python(root, opts)
	if err != nil {
		return err
	}
	var args []string
	if req.Kind == "analyzer" {
		// pulumi.policy takes the engine address and the pack directory as positionals.
		args = append([]string{"-u", "-m", "pulumi.policy"}, req.Args...)
		args = append(args, dir)
	} else {
		args = append([]string{"-u", filepath.Join(dir, entry)}, req.Args...)
	}

	cmd := exec.CommandContext(server.Context(), py, args...)
	cmd.Dir = req.Pwd
	cmd.Env = req.Env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}

	// gRPC streams allow one sender at a time, so both pipes feed one channel.
	chunks := make(chan *pulumirpc.RunPluginResponse)
	pump := func(r io.Reader, wrap func([]byte) *pulumirpc.RunPluginResponse) {
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				chunks <- wrap(append([]byte(nil), buf[:n]...))
			}
			if err != nil {
				chunks <- nil
				return
			}
		}
	}
	go pump(stdout, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	})
	go pump(stderr, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	})
	var sendErr error
	for open := 2; open > 0; {
		msg := <-chunks
		if msg == nil {
			open--
			continue
		}
		if sendErr == nil {
			sendErr = server.Send(msg)
		}
	}

	code := 0
	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = exitErr.ExitCode()
	}
	if sendErr != nil {
		return sendErr
	}
	return server.Send(&pulumirpc.RunPluginResponse{
		Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)},
	})
}

func (h *host) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) About(_ context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	root, _, _, opts := programInfo(req.Info)
	py, err := python(root, opts)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(py, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: py,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "Python "),
	}, nil
}
