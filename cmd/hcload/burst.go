package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"
)

// burst sends n pings at one instant, each on a connection of its own, as n cron jobs
// firing at the top of the hour do with curl: each dials, sends its ping, reads the
// answer and hangs up. A listen queue too short for the burst shows as connects that
// take a SYN retransmission (a second or more) or fail. Latency counts from the
// instant; "from send" counts from when the connection was up.
func burst(ctx context.Context, o options, checks []string, kinds []kind, n int) (result, error) {
	res := result{Checks: len(checks), Concurrency: n, ByStatus: map[string]int{}}
	pings := newPingMaker(o, checks, kinds)
	latencies := make([]time.Duration, n)
	services := make([]time.Duration, n)
	connects := make([]time.Duration, n)
	codes := make([]string, n)
	ready := make(chan struct{})
	var started, wg sync.WaitGroup
	started.Add(n)
	var instant time.Time
	for i := range n {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			method, path, body := pings.next(r)
			conn, err := newPingConn(o.baseURL)
			if err != nil {
				panic(err) // the URL was validated before the run
			}
			defer conn.close()
			started.Done()
			<-ready
			codes[i] = "error"
			err = conn.dial()
			connects[i] = time.Since(instant)
			if err == nil {
				sent := time.Now()
				if status, err := conn.do(method, path, body); err == nil {
					codes[i] = strconv.Itoa(status)
				}
				services[i] = time.Since(sent)
			}
			latencies[i] = time.Since(instant)
		})
	}
	// Every ping is ready to go before the instant, so the burst is not spread out by
	// the load tool starting its goroutines.
	started.Wait()
	instant = time.Now()
	close(ready)
	wg.Wait()
	res.Seconds = time.Since(instant).Seconds()
	for _, code := range codes {
		res.ByStatus[code]++
	}
	res.Sent = int64(n)
	res.Acknowledged = int64(res.ByStatus["200"])
	res.Throughput = float64(res.Acknowledged) / res.Seconds
	slices.Sort(latencies)
	slices.Sort(services)
	slices.Sort(connects)
	res.P50ms, res.P95ms, res.P99ms, res.MaxMs = quantile(latencies, 0.50), quantile(latencies, 0.95), quantile(latencies, 0.99), quantile(latencies, 1)
	res.ServiceP50ms, res.ServiceP99ms, res.ServiceMaxMs = quantile(services, 0.50), quantile(services, 0.99), quantile(services, 1)
	res.ConnectP50ms, res.ConnectP99ms, res.ConnectMaxMs = quantile(connects, 0.50), quantile(connects, 0.99), quantile(connects, 1)
	return res, ctx.Err()
}
