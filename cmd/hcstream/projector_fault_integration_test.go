//go:build integration

package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// buildBinary builds hcstream once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hcstream-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hcstream")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building hcstream: %v\n%s", err, out)
	}
	return bin, nil
})

// projectorProcess runs `hcstream projector` as a child process that a test can kill.
func projectorProcess(t *testing.T, env map[string]string) *exec.Cmd {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "projector")
	cmd.Env = append(os.Environ(), "HC_LISTEN="+freeAddr(t))
	for k, v := range env {
		if k != "HC_LISTEN" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return cmd
}

// splitStack runs ingest and query in-process, each on its own address, and the
// projector as a child process.
type splitStack struct {
	env       map[string]string
	ingest    string
	query     string
	projector *exec.Cmd
}

func startSplitStack(t *testing.T) *splitStack {
	t.Helper()
	env := isolatedEnv(t)
	s := &splitStack{env: env, ingest: startRole(t, env, "ingest"), query: startRole(t, env, "query")}
	s.projector = projectorProcess(t, env)
	for _, base := range []string{s.ingest, s.query} {
		awaitReady(t, base)
	}
	return s
}

// startRole runs one role in-process on its own address until the test ends, and
// returns its base URL.
func startRole(t *testing.T, env map[string]string, role string) string {
	t.Helper()
	roleEnv := maps.Clone(env)
	roleEnv["HC_LISTEN"] = freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{role}, func(k string) string { return roleEnv[k] }, io.Discard, testWriter{t})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return "http://" + roleEnv["HC_LISTEN"]
}

// awaitReady waits until the status endpoint at base answers 200.
func awaitReady(t *testing.T, base string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, base+" never became ready", func() bool {
		code, _ := statusOf(t, base)
		return code == http.StatusOK
	})
}

// loadPings pings random checks from 8 goroutines until ctx ends and returns how many
// were acknowledged.
func loadPings(ctx context.Context, ingest string, checks []string) *atomic.Int64 {
	var acked atomic.Int64
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 8 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			suffixes := []string{"", "", "", "/start", "/fail", "/0", "/log"}
			for ctx.Err() == nil {
				resp, err := client.Get(ingest + "/ping/" + checks[r.IntN(len(checks))] + suffixes[r.IntN(len(suffixes))])
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					acked.Add(1)
				}
			}
		}()
	}
	return &acked
}

// exactlyOnce checks what ClickHouse holds against the acknowledged count: one row per
// ping, and per check the ping numbers 1..n_pings with no gap and no repeat.
func exactlyOnce(t *testing.T, db string, acked int64) {
	t.Helper()
	conn := testenv.ClickHouseConn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rows, events, nPings uint64
	// Pings, then check states, are separate INSERTs: wait for both to be complete.
	testenv.Eventually(t, 60*time.Second, "the projector did not catch up", func() bool {
		if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM "+db+".pings FINAL").Scan(&rows, &events); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT sum(n_pings) FROM "+db+".checks FINAL").Scan(&nPings); err != nil {
			t.Fatal(err)
		}
		return rows >= uint64(acked) && nPings >= uint64(acked)
	})
	// Anything written twice would show now or after a moment more.
	time.Sleep(500 * time.Millisecond) //nolint:forbidigo // a late duplicate would land within this
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM "+db+".pings FINAL").Scan(&rows, &events); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT sum(n_pings) FROM "+db+".checks FINAL").Scan(&nPings); err != nil {
		t.Fatal(err)
	}
	var badChecks uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM (SELECT check_id, count() AS c, uniqExact(n) AS u, max(n) AS m FROM "+db+
		".pings FINAL GROUP BY check_id HAVING c != u OR u != m)").Scan(&badChecks); err != nil {
		t.Fatal(err)
	}
	t.Logf("acknowledged %d; ClickHouse: %d ping rows, %d distinct events, n_pings total %d", acked, rows, events, nPings)
	if rows != uint64(acked) || events != uint64(acked) || nPings != uint64(acked) || badChecks != 0 {
		t.Errorf("not exactly once: acknowledged %d, rows %d, distinct events %d, n_pings %d, checks with gaps or repeats %d",
			acked, rows, events, nPings, badChecks)
	}
}

// pingLog records what pingRounds sent: per check, the pings acknowledged with 200, and
// every ping that was not.
type pingLog struct {
	mu      sync.Mutex
	acked   map[string]int64
	refused []string
	done    chan struct{}
}

// pingRounds pings every check once per round, a round now and then one every `every`,
// until ctx ends. Each ping is bounded by 5 s and runs to its end even when ctx ends, so
// a ping the server acknowledged is always counted.
func pingRounds(ctx context.Context, ingest string, checks []string, every time.Duration) *pingLog {
	l := &pingLog{acked: map[string]int64{}, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			for _, id := range checks {
				if ctx.Err() != nil {
					return
				}
				code, err := pingOnce(ingest + "/ping/" + id)
				l.mu.Lock()
				if code == http.StatusOK {
					l.acked[id]++
				} else {
					l.refused = append(l.refused, fmt.Sprintf("%s at %s: %d %v", id, time.Now().Format(time.TimeOnly), code, err))
				}
				l.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return l
}

// pingOnce sends one success ping, bounded by 5 s, and returns the response status.
func pingOnce(url string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// snapshot returns the acknowledged pings per check so far, their total, and the pings
// that were not acknowledged.
func (l *pingLog) snapshot() (acked map[string]int64, total int64, refused []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	acked = maps.Clone(l.acked)
	return acked, sumCounts(acked), slices.Clone(l.refused)
}

// wait returns the final snapshot once pingRounds has stopped (its ctx ended).
func (l *pingLog) wait(t *testing.T) (acked map[string]int64, total int64, refused []string) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the pinger did not stop within 10s of its context ending")
	}
	return l.snapshot()
}

// storedCount is what ClickHouse holds of one check's pings: its n_pings and its rows
// in the pings table.
type storedCount struct{ nPings, rows uint64 }

// storedPings returns, by check UUID, what ClickHouse holds of each check's pings.
func storedPings(conn driver.Conn, db string) (map[string]storedCount, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]storedCount{}
	for _, q := range []struct {
		query string
		into  func(c *storedCount, n uint64)
	}{
		{"SELECT toString(check_id), n_pings FROM " + db + ".checks FINAL", func(c *storedCount, n uint64) { c.nPings = n }},
		{"SELECT toString(check_id), count() FROM " + db + ".pings FINAL GROUP BY check_id", func(c *storedCount, n uint64) { c.rows = n }},
	} {
		rows, err := conn.Query(ctx, q.query)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var n uint64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, err
			}
			c := out[id]
			q.into(&c, n)
			out[id] = c
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// awaitStored waits until ClickHouse holds at least want[check] pings of every check,
// both as rows and in n_pings; after within it fails, listing what is missing.
func awaitStored(t *testing.T, conn driver.Conn, db string, want map[string]int64, within time.Duration) {
	t.Helper()
	start := time.Now()
	var missing []string
	for {
		got, err := storedPings(conn, db)
		missing = missing[:0]
		if err != nil {
			missing = append(missing, "query: "+err.Error())
		}
		for id, n := range want {
			if c := got[id]; c.nPings < uint64(n) || c.rows < uint64(n) {
				missing = append(missing, fmt.Sprintf("%s: %d rows and n_pings %d of %d acknowledged", id, c.rows, c.nPings, n))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Since(start) > within {
			t.Fatalf("after %v ClickHouse still lacks acknowledged pings: %v", within, missing)
		}
		time.Sleep(100 * time.Millisecond) //nolint:forbidigo // polling interval of a deadline-bounded wait
	}
}

// exactlyOncePerCheck is exactlyOnce, and then per check: as many rows, and n_pings as
// high, as the pings acknowledged for it.
func exactlyOncePerCheck(t *testing.T, db string, acked map[string]int64) {
	t.Helper()
	exactlyOnce(t, db, sumCounts(acked))
	got, err := storedPings(testenv.ClickHouseConn(t), db)
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range acked {
		if c := got[id]; c.nPings != uint64(n) || c.rows != uint64(n) {
			t.Errorf("check %s: %d ping rows and n_pings %d, acknowledged %d", id, c.rows, c.nPings, n)
		}
	}
}

// terminate stops a child process with SIGTERM and waits (bounded) for it to exit,
// failing the test unless it exits with status 0.
func terminate(t *testing.T, cmd *exec.Cmd, within time.Duration) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signalling %s: %v", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("%s after SIGTERM: %v, want exit status 0", cmd.Args, err)
		}
	case <-time.After(within):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("%s did not exit within %v of SIGTERM", cmd.Args, within)
	}
}

// createChecks creates a project and n checks in it through the API at api, each with
// the given JSON settings (for example `"timeout": 60, "grace": 60`), and returns their
// UUIDs.
func createChecks(t *testing.T, env map[string]string, api string, n int, settings string) []string {
	t.Helper()
	key := (&stack{env: env}).createProject(t)["api_key"]
	var ids []string
	for i := range n {
		created := do(t, "POST", api+"/api/v3/checks/", key, fmt.Sprintf(`{"name": "job-%d", %s}`, i, settings))
		if created.code != http.StatusCreated {
			t.Fatalf("create: %d %s", created.code, created.body)
		}
		ids = append(ids, created.json(t)["uuid"].(string))
	}
	return ids
}

// kill -9 of the projector in the middle of its batches, under load: after a new
// projector takes over, ClickHouse holds every acknowledged ping exactly once.
func TestFaultProjectorKilledUnderLoad(t *testing.T) {
	s := startSplitStack(t)
	checks := createChecks(t, s.env, s.query, 20, `"timeout": 3600`)
	ctx, stop := context.WithCancel(context.Background())
	acked := loadPings(ctx, s.ingest, checks)
	time.Sleep(3 * time.Second) //nolint:forbidigo // load builds up before the crash
	if err := s.projector.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.projector.Wait()
	time.Sleep(2 * time.Second) //nolint:forbidigo // pings keep arriving while no projector runs
	projectorProcess(t, s.env)
	time.Sleep(3 * time.Second) //nolint:forbidigo // load continues under the new projector
	stop()
	time.Sleep(200 * time.Millisecond) //nolint:forbidigo // in-flight pings settle
	exactlyOnce(t, s.env["HC_CLICKHOUSE_DATABASE"], acked.Load())
}

// Two projectors share the partitions; when one stops, the other takes its partitions.
// Every ping is stored once and every flip once, with flip numbers 1..n per check.
func TestFaultProjectorRebalance(t *testing.T) {
	s := startSplitStack(t)
	second := projectorProcess(t, s.env)
	checks := createChecks(t, s.env, s.query, 20, `"timeout": 3600`)
	ctx, stop := context.WithCancel(context.Background())
	acked := loadPings(ctx, s.ingest, checks)
	time.Sleep(3 * time.Second) //nolint:forbidigo // both projectors consume for a while
	_ = second.Process.Signal(syscall.SIGTERM)
	_ = second.Wait()
	time.Sleep(3 * time.Second) //nolint:forbidigo // the survivor takes over under load
	stop()
	time.Sleep(200 * time.Millisecond) //nolint:forbidigo // in-flight pings settle
	db := s.env["HC_CLICKHOUSE_DATABASE"]
	exactlyOnce(t, db, acked.Load())
	conn := testenv.ClickHouseConn(t)
	var badFlips, flips uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".flips FINAL").Scan(&flips); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM (SELECT f.check_id, count() AS c, max(f.flip_seq) AS m, any(c2.flip_seq) AS s FROM "+db+
		".flips AS f FINAL ANY LEFT JOIN (SELECT check_id, flip_seq FROM "+db+".checks FINAL) AS c2 USING check_id GROUP BY f.check_id HAVING c != m OR m != s)").Scan(&badFlips); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d flips", flips)
	if flips == 0 || badFlips != 0 {
		t.Errorf("%d flips; %d checks whose flips are not exactly 1..flip_seq", flips, badFlips)
	}
	// The flips topic carries each flip once: a clean handover republishes nothing.
	seen := map[string]int{}
	for _, m := range testenv.ReadAll(t, s.env["HC_KAFKA_TOPIC_FLIPS"]) {
		ev, err := kafkarec.Event(m)
		if err != nil {
			t.Fatal(err)
		}
		seen[ev.CheckID.String()+"/"+strconv.FormatUint(ev.Body.(schemas.StatusChanged).FlipSeq, 10)]++
	}
	duplicates := 0
	for _, n := range seen {
		duplicates += n - 1
	}
	if uint64(len(seen)) != flips || duplicates != 0 {
		t.Errorf("flips topic: %d distinct flips (ClickHouse has %d), %d duplicates", len(seen), flips, duplicates)
	}
}
