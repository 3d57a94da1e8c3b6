package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

// config is the whole process configuration, read from HC_* environment variables and
// overridden by flags. Every field's default is in defaultConfig and README.
type config struct {
	Listen             string
	SiteRoot           string
	PingPrefix         string
	KafkaBrokers       []string
	EventsTopic        string
	RegistryTopic      string
	FlipsTopic         string
	Partitions         int
	ReplicationFactor  int
	ClickHouseAddr     string
	ClickHouseDatabase string
	ClickHouseUser     string
	ClickHousePassword string
	PingBodyLimit      int
	CheckLimit         int
	BadgeLabel         string
	PublishTimeout     time.Duration
	TrustedProxies     []netip.Prefix
	ProjectorGroup     string
	BatchSize          int
	FlushInterval      time.Duration
	WriteInterval      time.Duration
	ProduceRequests    int
	TickInterval       time.Duration
	ProduceSpacing     time.Duration
	OutageWindow       time.Duration
	WriteWait          time.Duration
	ListCacheMiB       int
	QueryLive          bool
	ShutdownTimeout    time.Duration
	RequestTimeout     time.Duration
	// MaxConnections is autoConnections or the cap itself (0: none).
	MaxConnections int
	LogLevel       slog.Level
	Pprof          bool
	// Settings is every variable's effective value, in README's order, for the log at
	// start; secrets show only whether they are set.
	Settings []slog.Attr
}

// secretVars are the settings whose values are never logged.
var secretVars = map[string]bool{"HC_CLICKHOUSE_PASSWORD": true}

// envVar documents one setting: its variable, default and meaning (README's table).
type envVar struct {
	name, def, help string
	set             func(c *config, v string) error
}

func envVars() []envVar {
	str := func(dst func(*config) *string) func(*config, string) error {
		return func(c *config, v string) error { *dst(c) = v; return nil }
	}
	atLeast := func(least int) func(dst func(*config) *int) func(*config, string) error {
		return func(dst func(*config) *int) func(*config, string) error {
			return func(c *config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < least {
					return fmt.Errorf("want a whole number of at least %d, got %q", least, v)
				}
				*dst(c) = n
				return nil
			}
		}
	}
	integer, count := atLeast(1), atLeast(0)
	durationIn := func(least, most time.Duration, want string) func(dst func(*config) *time.Duration) func(*config, string) error {
		return func(dst func(*config) *time.Duration) func(*config, string) error {
			return func(c *config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < least || d > most {
					return fmt.Errorf("want %s, got %q", want, v)
				}
				*dst(c) = d
				return nil
			}
		}
	}
	// Every ping can wait out the produce spacing: more than a few milliseconds would
	// be latency bought for nothing, as the broker's per-request cost is spread by then.
	duration := durationIn(1, math.MaxInt64, "a positive duration such as 2s")
	spacing := durationIn(0, 100*time.Millisecond, "a duration from 0 to 100ms such as 2ms")
	boolean := func(dst func(*config) *bool) func(*config, string) error {
		return func(c *config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*dst(c) = b
			return nil
		}
	}
	return []envVar{
		{"HC_LISTEN", "127.0.0.1:8000", "HTTP listen address for pings, the API, status and metrics", str(func(c *config) *string { return &c.Listen })},
		{"HC_SITE_ROOT", "http://localhost:8000", "public base URL used in API responses; routes are served under its path", str(func(c *config) *string { return &c.SiteRoot })},
		{"HC_PING_PATH_PREFIX", "/ping/", "path under which ping URLs are served; \"/\" serves them at the root", func(c *config, v string) error {
			if !strings.HasPrefix(v, "/") || !strings.HasSuffix(v, "/") {
				return fmt.Errorf("want a path that starts and ends with /, got %q", v)
			}
			c.PingPrefix = v
			return nil
		}},
		{"HC_KAFKA_BROKERS", "127.0.0.1:9092", "comma-separated Kafka bootstrap addresses", func(c *config, v string) error {
			c.KafkaBrokers = nil
			for b := range strings.SplitSeq(v, ",") {
				if b = strings.TrimSpace(b); b != "" {
					c.KafkaBrokers = append(c.KafkaBrokers, b)
				}
			}
			if len(c.KafkaBrokers) == 0 {
				return fmt.Errorf("no broker in %q", v)
			}
			return nil
		}},
		{"HC_KAFKA_TOPIC_EVENTS", "hcstream.events", "topic carrying every event, keyed by check", str(func(c *config) *string { return &c.EventsTopic })},
		{"HC_KAFKA_TOPIC_REGISTRY", "hcstream.registry", "compacted topic of check and project configuration, read by ingest", str(func(c *config) *string { return &c.RegistryTopic })},
		{"HC_KAFKA_TOPIC_FLIPS", "hcstream.flips", "topic of StatusChanged events for notifiers, keyed by check (at least once; deduplicate on check and flip_seq)", str(func(c *config) *string { return &c.FlipsTopic })},
		{"HC_KAFKA_PARTITIONS", "12", "partitions of the events topic when hcstream creates it", integer(func(c *config) *int { return &c.Partitions })},
		{"HC_KAFKA_REPLICATION_FACTOR", "1", "replication factor of topics hcstream creates", integer(func(c *config) *int { return &c.ReplicationFactor })},
		{"HC_CLICKHOUSE_ADDR", "127.0.0.1:9000", "ClickHouse native protocol address", str(func(c *config) *string { return &c.ClickHouseAddr })},
		{"HC_CLICKHOUSE_DATABASE", "hcstream", "ClickHouse database (letters, digits, underscores)", func(c *config, v string) error {
			c.ClickHouseDatabase = v
			return chschema.ValidDatabase(v)
		}},
		{"HC_CLICKHOUSE_USER", "default", "ClickHouse user", str(func(c *config) *string { return &c.ClickHouseUser })},
		{"HC_CLICKHOUSE_PASSWORD", "", "ClickHouse password (never logged)", str(func(c *config) *string { return &c.ClickHousePassword })},
		{"HC_CHECK_LIMIT", "0", "most checks a project may have (0: no limit); creating more is a 403, ?create=1 stops at twice it", count(func(c *config) *int { return &c.CheckLimit })},
		{"HC_MASTER_BADGE_LABEL", "hcstream", "label of the badge of all of a project's checks", str(func(c *config) *string { return &c.BadgeLabel })},
		{"HC_PING_BODY_LIMIT", "10000", "ping body bytes kept, sent back in the Ping-Body-Limit header", integer(func(c *config) *int { return &c.PingBodyLimit })},
		{"HC_INGEST_PUBLISH_TIMEOUT", "2s", "longest wait for Kafka's acknowledgement before a ping is answered 503", duration(func(c *config) *time.Duration { return &c.PublishTimeout })},
		{"HC_INGEST_TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For/-Proto are believed", func(c *config, v string) error {
			c.TrustedProxies = nil
			for s := range strings.SplitSeq(v, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return fmt.Errorf("bad CIDR %q: %w", s, err)
				}
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
			return nil
		}},
		{"HC_PROJECTOR_GROUP", "hcstream-projector", "Kafka consumer group of the projectors", str(func(c *config) *string { return &c.ProjectorGroup })},
		{"HC_PROJECTOR_BATCH_SIZE", "5000", "most events folded into one ClickHouse batch", integer(func(c *config) *int { return &c.BatchSize })},
		{"HC_PROJECTOR_FLUSH_INTERVAL", "100ms", "longest an event waits before its batch is written", duration(func(c *config) *time.Duration { return &c.FlushInterval })},
		{"HC_PROJECTOR_WRITE_INTERVAL", "1s", "how often the partitions' batches are merged into one ClickHouse write", duration(func(c *config) *time.Duration { return &c.WriteInterval })},
		{"HC_INGEST_PRODUCE_REQUESTS", "1", "most Kafka produce requests ingest keeps out at once; pings arriving meanwhile join the next request", integer(func(c *config) *int { return &c.ProduceRequests })},
		{"HC_INGEST_PRODUCE_SPACING", "2ms", "least time between the starts of ingest's produce requests while pings keep coming; an idle ingest sends at once", spacing(func(c *config) *time.Duration { return &c.ProduceSpacing })},
		{"HC_INGEST_TICK_INTERVAL", "1s", "how often ingest writes a clock tick into every partition, moving stream time when no ping does", duration(func(c *config) *time.Duration { return &c.TickInterval })},
		{"HC_PROJECTOR_OUTAGE_WINDOW", "30s", "a gap in stream time longer than this is an ingest outage: deadlines are postponed and an incident recorded", duration(func(c *config) *time.Duration { return &c.OutageWindow })},
		{"HC_QUERY_WRITE_WAIT", "5s", "how long an API write waits until the projector has folded it", duration(func(c *config) *time.Duration { return &c.WriteWait })},
		{"HC_QUERY_LIST_CACHE_MB", "64", "MiB of check renderings the API keeps for the check lists it serves; a project listing more is rendered afresh at every read", integer(func(c *config) *int { return &c.ListCacheMiB })},
		{"HC_QUERY_LIVE", "true", "a query role without the projector in its process folds the events topic itself and answers check reads from memory (the state of every check) instead of ClickHouse (true or false)", boolean(func(c *config) *bool { return &c.QueryLive })},
		{"HC_SHUTDOWN_TIMEOUT", "15s", "bound on graceful shutdown", duration(func(c *config) *time.Duration { return &c.ShutdownTimeout })},
		{"HC_HTTP_REQUEST_TIMEOUT", "60s", "longest a client may take to send one request, headers and body, and again to read the answer; idle keep-alive connections close after 2 minutes", duration(func(c *config) *time.Duration { return &c.RequestTimeout })},
		{"HC_HTTP_MAX_CONNECTIONS", "auto", "most client connections served at once; past it new ones are taken from the kernel but wait unserved, and idle keep-alive ones are closed to make room (auto: a quarter of the Go memory limit at 32 KiB a connection, at least 256, or 10000 without a limit; 0: no cap)", func(c *config, v string) error {
			if v == "auto" {
				c.MaxConnections = autoConnections
				return nil
			}
			return count(func(c *config) *int { return &c.MaxConnections })(c, v)
		}},
		{"HC_DEBUG_PPROF", "false", "serve Go profiles under /debug/pprof/ (true or false)", boolean(func(c *config) *bool { return &c.Pprof })},
		{"HC_LOG_LEVEL", "info", "debug, info, warn or error", func(c *config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
	}
}

// loadConfig applies defaults, then the environment, then flags.
func loadConfig(fs *flag.FlagSet, args []string, env func(string) string, stderr io.Writer) (config, error) {
	var c config
	vars := envVars()
	effective := make(map[string]string, len(vars))
	for _, v := range vars {
		val := v.def
		if e := env(v.name); e != "" {
			val = e
		}
		if err := v.set(&c, val); err != nil {
			return c, fmt.Errorf("%s: %w", v.name, err)
		}
		effective[v.name] = val
	}
	fs.SetOutput(stderr)
	flags := map[string]string{"listen": "HC_LISTEN", "kafka-brokers": "HC_KAFKA_BROKERS",
		"clickhouse-addr": "HC_CLICKHOUSE_ADDR", "clickhouse-database": "HC_CLICKHOUSE_DATABASE"}
	values := map[string]*string{}
	for flagName, envName := range flags {
		values[flagName] = fs.String(flagName, "", "overrides "+envName)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for flagName, envName := range flags {
		if *values[flagName] == "" {
			continue
		}
		for _, v := range vars {
			if v.name == envName {
				if err := v.set(&c, *values[flagName]); err != nil {
					return c, fmt.Errorf("--%s: %w", flagName, err)
				}
				effective[envName] = *values[flagName]
			}
		}
	}
	// A ping can wait out the spacing before its produce request even starts: a timeout
	// that leaves the broker less than as long again would answer pings 503 while Kafka
	// is well.
	if c.PublishTimeout < 2*c.ProduceSpacing {
		return c, fmt.Errorf("HC_INGEST_PUBLISH_TIMEOUT (%v) must be at least twice HC_INGEST_PRODUCE_SPACING (%v): a ping can wait out the spacing before its produce request starts", c.PublishTimeout, c.ProduceSpacing)
	}
	for _, v := range vars {
		val := effective[v.name]
		if secretVars[v.name] && val != "" {
			val = "(set)"
		}
		c.Settings = append(c.Settings, slog.String(v.name, val))
	}
	return c, nil
}
