package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	pbempty "google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// fakePython writes a virtualenv whose bin/python is a shell script: it records its arguments (one a
// line) and the PULUMI_* variables into record, prints to both streams, and exits with the status in
// $FAKE_EXIT. The host is exercised end to end through real processes, with no Python involved.
func fakePython(t *testing.T) (venv, record string) {
	t.Helper()
	venv = filepath.Join(t.TempDir(), "venv")
	if err := os.MkdirAll(filepath.Join(venv, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	record = filepath.Join(t.TempDir(), "record")
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do echo \"arg:$a\"; done > " + record + "\n" +
		"env | grep '^PULUMI_' | sed 's/^/env:/' >> " + record + "\n" +
		"echo out-line\necho err-line >&2\nexit ${FAKE_EXIT:-0}\n"
	if err := os.WriteFile(filepath.Join(venv, "bin", "python"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return venv, record
}

func programWith(t *testing.T, dir string, opts map[string]any) *pulumirpc.ProgramInfo {
	t.Helper()
	options, err := structpb.NewStruct(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: ".", Options: options}
}

func readRecord(t *testing.T, record string) (args []string, env map[string]string) {
	t.Helper()
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("the interpreter never ran: %v", err)
	}
	env = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		switch {
		case strings.HasPrefix(line, "arg:"):
			args = append(args, strings.TrimPrefix(line, "arg:"))
		case strings.HasPrefix(line, "env:"):
			key, value, _ := strings.Cut(strings.TrimPrefix(line, "env:"), "=")
			env[key] = value
		}
	}
	return args, env
}

func argAfter(args []string, flag string) string {
	for i, a := range args[:len(args)-1] {
		if a == flag {
			return args[i+1]
		}
	}
	return ""
}

func TestPythonResolvesVirtualenvRelativeToTheProjectRoot(t *testing.T) {
	venv, _ := fakePython(t)
	root := filepath.Dir(venv)
	got, err := python(root, map[string]any{"virtualenv": "venv"})
	if err != nil || got != filepath.Join(venv, "bin", "python") {
		t.Fatalf("python() = %q, %v", got, err)
	}
}

func TestPythonRefusesAVirtualenvWithoutAnInterpreter(t *testing.T) {
	_, err := python(t.TempDir(), map[string]any{"virtualenv": "missing"})
	if err == nil || !strings.Contains(err.Error(), "has no bin/python") {
		t.Fatalf("want a clear error, got %v", err)
	}
}

func TestPythonFallsBackToPulumiPythonCmd(t *testing.T) {
	t.Setenv("PULUMI_PYTHON_CMD", "/opt/custom/python")
	got, err := python(t.TempDir(), map[string]any{})
	if err != nil || got != "/opt/custom/python" {
		t.Fatalf("python() = %q, %v", got, err)
	}
}

func TestProgramInfoDefaultsWhenTheEngineSendsNone(t *testing.T) {
	root, dir, entry, opts := programInfo(nil)
	if root != "" || dir != "" || entry != "." || len(opts) != 0 {
		t.Fatalf("programInfo(nil) = %q %q %q %v", root, dir, entry, opts)
	}
}

func TestRunPassesTheEnginesRequestToTheExecScript(t *testing.T) {
	venv, record := fakePython(t)
	dir := filepath.Dir(venv)
	h := &host{engineAddress: "127.0.0.1:1111", execScript: "/toolchain/pulumi-language-python-exec"}
	resp, err := h.Run(context.Background(), &pulumirpc.RunRequest{
		Project: "autocloud", Stack: "local-eu", Pwd: dir, MonitorAddress: "127.0.0.1:2222",
		DryRun: true, Parallel: 4, Organization: "org",
		Info: programWith(t, dir, map[string]any{"virtualenv": "venv"}),
	})
	if err != nil || resp.Error != "" || resp.Bail {
		t.Fatalf("Run = %+v, %v", resp, err)
	}
	args, env := readRecord(t, record)
	if args[0] != "-u" || args[1] != h.execScript {
		t.Fatalf("the exec script must run unbuffered first: %v", args)
	}
	for flag, want := range map[string]string{
		"--monitor": "127.0.0.1:2222", "--engine": "127.0.0.1:1111", "--stack": "local-eu",
		"--dry_run": "true", "--parallel": "4", "--root_directory": dir,
	} {
		if got := argAfter(args, flag); got != want {
			t.Errorf("%s = %q, want %q (args %v)", flag, got, want, args)
		}
	}
	if args[len(args)-1] != filepath.Join(dir, ".") {
		t.Errorf("the program path must come last: %v", args)
	}
	// A stack without config: the SDK parses these as JSON and wants empty containers, never null.
	if env["PULUMI_CONFIG"] != "{}" || env["PULUMI_CONFIG_SECRET_KEYS"] != "[]" {
		t.Errorf("config env = %q / %q", env["PULUMI_CONFIG"], env["PULUMI_CONFIG_SECRET_KEYS"])
	}
	if env["PULUMI_DRY_RUN"] != "true" || env["PULUMI_STACK"] != "local-eu" {
		t.Errorf("engine env = %v", env)
	}
}

func TestRunHandsConfigAndSecretKeysAsJSON(t *testing.T) {
	venv, record := fakePython(t)
	dir := filepath.Dir(venv)
	h := &host{execScript: "exec"}
	_, err := h.Run(context.Background(), &pulumirpc.RunRequest{
		Pwd: dir, Info: programWith(t, dir, map[string]any{"virtualenv": "venv"}),
		Config:           map[string]string{"autocloud:region": "eu"},
		ConfigSecretKeys: []string{"autocloud:fleetCaKey"},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, env := readRecord(t, record)
	var config map[string]string
	if err := json.Unmarshal([]byte(env["PULUMI_CONFIG"]), &config); err != nil || config["autocloud:region"] != "eu" {
		t.Fatalf("PULUMI_CONFIG = %q (%v)", env["PULUMI_CONFIG"], err)
	}
	if env["PULUMI_CONFIG_SECRET_KEYS"] != `["autocloud:fleetCaKey"]` {
		t.Fatalf("PULUMI_CONFIG_SECRET_KEYS = %q", env["PULUMI_CONFIG_SECRET_KEYS"])
	}
}

func TestRunMapsExitStatuses(t *testing.T) {
	venv, _ := fakePython(t)
	dir := filepath.Dir(venv)
	h := &host{execScript: "exec"}
	req := &pulumirpc.RunRequest{Pwd: dir, Info: programWith(t, dir, map[string]any{"virtualenv": "venv"})}

	t.Setenv("FAKE_EXIT", "32")
	resp, err := h.Run(context.Background(), req)
	if err != nil || !resp.Bail || resp.Error != "" {
		t.Fatalf("exit 32 (already reported to the user) must bail quietly: %+v, %v", resp, err)
	}
	t.Setenv("FAKE_EXIT", "3")
	resp, err = h.Run(context.Background(), req)
	if err != nil || resp.Bail || !strings.Contains(resp.Error, "exit status 3") {
		t.Fatalf("any other failure must be an error: %+v, %v", resp, err)
	}
}

func TestRunReportsAMissingVirtualenvAsAnError(t *testing.T) {
	dir := t.TempDir()
	resp, err := (&host{}).Run(context.Background(), &pulumirpc.RunRequest{
		Pwd: dir, Info: programWith(t, dir, map[string]any{"virtualenv": "nowhere"}),
	})
	if err != nil || !strings.Contains(resp.Error, "has no bin/python") {
		t.Fatalf("Run = %+v, %v", resp, err)
	}
}

// pluginStream collects what RunPlugin streams back to the engine.
type pluginStream struct {
	grpc.ServerStream
	ctx  context.Context
	sent []*pulumirpc.RunPluginResponse
}

func (s *pluginStream) Context() context.Context { return s.ctx }
func (s *pluginStream) Send(m *pulumirpc.RunPluginResponse) error {
	s.sent = append(s.sent, m)
	return nil
}
func (s *pluginStream) SetHeader(metadata.MD) error { return nil }

func TestRunPluginStartsAPolicyPackAndStreamsItsOutput(t *testing.T) {
	venv, record := fakePython(t)
	pack := filepath.Dir(venv)
	stream := &pluginStream{ctx: context.Background()}
	err := (&host{}).RunPlugin(&pulumirpc.RunPluginRequest{
		Kind: "analyzer", Pwd: pack, Args: []string{"127.0.0.1:3333"},
		Env:  []string{"FAKE_EXIT=5", "PATH=" + os.Getenv("PATH")},
		Info: programWith(t, pack, map[string]any{"virtualenv": "venv"}),
	}, stream)
	if err != nil {
		t.Fatal(err)
	}
	args, _ := readRecord(t, record)
	want := []string{"-u", "-m", "pulumi.policy", "127.0.0.1:3333", pack}
	if strings.Join(args, " ") != strings.Join(want, " ") {
		t.Fatalf("args = %v, want %v", args, want)
	}
	var stdout, stderr string
	for _, m := range stream.sent[:len(stream.sent)-1] {
		stdout += string(m.GetStdout())
		stderr += string(m.GetStderr())
	}
	if stdout != "out-line\n" || stderr != "err-line\n" {
		t.Fatalf("streamed stdout %q stderr %q", stdout, stderr)
	}
	last := stream.sent[len(stream.sent)-1]
	if _, ok := last.Output.(*pulumirpc.RunPluginResponse_Exitcode); !ok || last.GetExitcode() != 5 {
		t.Fatalf("the last message must carry the exit code 5: %+v", last)
	}
}

func TestGetPluginInfoReportsTheStampedVersion(t *testing.T) {
	info, err := (&host{}).GetPluginInfo(context.Background(), &pbempty.Empty{})
	if err != nil || info.Version != version {
		t.Fatalf("GetPluginInfo = %+v, %v", info, err)
	}
}
