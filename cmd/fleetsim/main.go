// Command fleetsim drives up to 10,000 simulated vehicles through a region's device path from one
// machine: each registers with the region's DPS (or reuses a cached assignment), connects to its hub
// over MQTT/TLS with an X.509 certificate from the fleet CA, and publishes VSS-shaped telemetry at QoS 1.
// It reads a JSON plan (plan.go) from a file or stdin and writes JSON lines on stdout: progress every
// second, then one summary. `autocloud simulate` builds the plan and reads the lines.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

func main() {
	os.Exit(cli(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// cli runs with args and the given streams; the exit code is 2 for a bad plan, 1 for a failed run.
func cli(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("fleetsim", flag.ContinueOnError)
	flags.SetOutput(stderr)
	planFile := flags.String("plan", "-", "the JSON plan's file, - for stdin")
	showVersion := flags.Bool("version", false, "print the version and exit")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		_, _ = fmt.Fprintln(stdout, version)
		return 0
	}
	in := stdin
	if *planFile != "-" {
		f, err := os.Open(*planFile)
		if err != nil {
			_, _ = fmt.Fprintln(stderr, "fleetsim:", err)
			return 2
		}
		defer f.Close()
		in = f
	}
	plan, err := ReadPlan(in)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "fleetsim:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if _, err := Execute(ctx, plan, stdout); err != nil {
		_, _ = fmt.Fprintln(stderr, "fleetsim:", err)
		return 1
	}
	return 0
}
