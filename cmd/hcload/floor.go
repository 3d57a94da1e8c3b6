package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The floor is what HTTP alone costs this machine at a rate: a stand-in server, in a
// process of its own, answers every request as hcstream answers an acknowledged ping,
// with nothing behind it (no registry, no Kafka, no projector), and hcload drives it as
// it drives hcstream. The two processes' CPU is the least any ping server built on
// net/http can leave to Kafka, the projector and ClickHouse on the same machine, so a
// rate whose floor takes most of the cores cannot be met there with everything on one
// box, whatever hcstream does.

// floorAnswer is the headers and body of a ping's 200, as hcstream sends them (net/http
// adds Date and Content-Length), so each response costs the same bytes to write.
var floorAnswer = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h["Access-Control-Allow-Origin"] = []string{"*"}
	h["Ping-Body-Limit"] = []string{"10000"}
	h["Cache-Control"] = []string{"max-age=0, no-cache, no-store, must-revalidate, private"}
	h["Expires"] = []string{time.Now().UTC().Format(http.TimeFormat)}
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	_, _ = io.WriteString(w, "OK")
})

// serveFloor serves the stand-in on a free loopback port, printing its address on the
// first line of stdout, until ctx ends. Its timeouts are hcstream's defaults.
func serveFloor(ctx context.Context, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ln.Addr().String())
	srv := &http.Server{Handler: floorAnswer, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// floorResult is a floor run: the load's figures and the CPU each side took during it.
type floorResult struct {
	result
	// In percent of one core over the measured run; the machine has 100 × cores.
	ServerCPU float64 `json:"server_cpu_percent"`
	LoadCPU   float64 `json:"load_cpu_percent"`
	OtherCPU  float64 `json:"other_cpu_percent"`
	IdleCPU   float64 `json:"idle_cpu_percent"`
	StealCPU  float64 `json:"steal_cpu_percent"`
	Cores     int     `json:"cores"`
}

// runFloor starts the stand-in as a child process and drives it with o's rate, mix,
// connections and durations.
func runFloor(ctx context.Context, o options, stdout io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	server := exec.CommandContext(ctx, self, "-serve-floor")
	server.Stderr = os.Stderr
	// A load tool killed outright must not leave the stand-in serving.
	server.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := server.StdoutPipe()
	if err != nil {
		cancel()
		return err
	}
	if err := server.Start(); err != nil {
		cancel()
		return err
	}
	// Cancelling kills the stand-in; Wait reaps it.
	defer func() {
		cancel()
		_ = server.Wait()
	}()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the stand-in server did not start: %w", err)
	}
	o.baseURL = "http://" + strings.TrimSpace(addr)
	kinds, err := parseMix(o.mix)
	if err != nil {
		return err
	}
	checks := randomChecks(o.checks)
	if o.warmup > 0 {
		if _, err := drive(ctx, o, checks, kinds, o.warmup); err != nil {
			return err
		}
	}
	before, err := sampleCPU(server.Process.Pid)
	if err != nil {
		return err
	}
	res, err := measure(ctx, o, checks, kinds)
	if err != nil {
		return err
	}
	after, err := sampleCPU(server.Process.Pid)
	if err != nil {
		return err
	}
	fr := after.since(before)
	fr.result = res
	if o.jsonOut {
		return json.NewEncoder(stdout).Encode(fr)
	}
	fmt.Fprintln(stdout, "floor: a stand-in server answering every ping with 200 and nothing behind it")
	printLoad(stdout, res)
	fmt.Fprintf(stdout, "CPU (%% of a core, %d cores): stand-in server %.0f, hcload %.0f, everything else %.0f, idle %.0f, stolen %.0f\n",
		fr.Cores, fr.ServerCPU, fr.LoadCPU, fr.OtherCPU, fr.IdleCPU, fr.StealCPU)
	return nil
}

// clockTicks is Linux's USER_HZ, the unit of /proc's CPU times on every architecture
// Debian ships.
const clockTicks = 100

// cpuSample is the CPU time, in clock ticks, of the stand-in, of this process and of the
// whole machine by kind, at one moment.
type cpuSample struct {
	at                time.Time
	server, load      int64
	busy, idle, steal int64
	cores             int
}

func sampleCPU(serverPID int) (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	var err error
	if s.server, err = processTicks(fmt.Sprintf("/proc/%d/stat", serverPID)); err != nil {
		return s, err
	}
	if s.load, err = processTicks("/proc/self/stat"); err != nil {
		return s, err
	}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	s.busy, s.idle, s.steal, s.cores, err = machineTicks(string(stat))
	return s, err
}

func (s cpuSample) since(b cpuSample) floorResult {
	percent := func(ticks int64) float64 {
		return float64(ticks) / clockTicks / s.at.Sub(b.at).Seconds() * 100
	}
	server, load := percent(s.server-b.server), percent(s.load-b.load)
	return floorResult{ServerCPU: server, LoadCPU: load, OtherCPU: max(percent(s.busy-b.busy)-server-load, 0),
		IdleCPU: percent(s.idle - b.idle), StealCPU: percent(s.steal - b.steal), Cores: s.cores}
}

// processTicks reads a process's user and system time from its /proc stat file.
func processTicks(path string) (int64, error) {
	stat, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces and parentheses; the fields
	// after its last one are fixed.
	end := strings.LastIndexByte(string(stat), ')')
	fields := strings.Fields(string(stat[end+1:]))
	if end < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	user, err1 := strconv.ParseInt(fields[11], 10, 64)
	system, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return user + system, nil
}

// machineTicks sums /proc/stat's first line into busy, idle (iowait included) and
// stolen time, and counts the cores.
func machineTicks(stat string) (busy, idle, steal int64, cores int, err error) {
	first, rest, _ := strings.Cut(stat, "\n")
	fields := strings.Fields(first)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, 0, 0, errors.New("/proc/stat: unexpected format")
	}
	// user nice system idle iowait irq softirq steal; guest time is already in user.
	for i, f := range fields[1:9] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, 0, 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		switch i {
		case 3, 4:
			idle += n
		case 7:
			steal += n
		default:
			busy += n
		}
	}
	for line := range strings.SplitSeq(rest, "\n") {
		if strings.HasPrefix(line, "cpu") {
			cores++
		}
	}
	return busy, idle, steal, cores, nil
}
