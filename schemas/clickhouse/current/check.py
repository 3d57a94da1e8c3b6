#!/usr/bin/env python3
"""Runs on current ClickHouse every statement hcstream sent to the local ClickHouse 18.16.

The integration tests run against ClickHouse 18.16, whose system.query_log keeps each
statement as the server received it (clickhouse-go binds parameters on the client, so
the text is complete). This script takes the distinct statements that succeeded there
since a given time and replays them on current ClickHouse, run in process by chDB:

1. schema: every CREATE and column-changing ALTER, in the order 18.16 ran them;
2. rows: each test database those statements created that is still on 18.16 is
   copied table by table, so both servers hold the same rows;
3. reads: every SELECT runs on both servers, and the answers must be equal;
4. writes: every other statement runs. A batch INSERT, whose rows travel beside the
   SQL text, runs as an INSERT of no rows with the same columns;
5. drops.

Test databases are testenv's ("t_" and the test's name); `make test` keeps them for
this (HC_TEST_KEEP_DATABASES), and --drop-test-databases drops every one from 18.16
at the end, leftovers of interrupted runs included.

Usage: check.py --since UNIX_SECONDS --http http://127.0.0.1:8123 [--drop-test-databases]
Exit status 1 when any statement fails or any answer differs.
deploy/local/current-clickhouse.sh installs chDB and runs this script.
"""

import argparse
import concurrent.futures
import json
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from chdb import session as chdb_session

TEST_DATABASE = re.compile(r"^t_\w+$")
CREATE_DATABASE = re.compile(r"^CREATE\s+DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?", re.I)
DATABASE_REFERENCE = re.compile(r"\b(?:FROM|JOIN|INTO|TABLE)\s+`?(\w+)`?\.", re.I)
COLUMN_ALTER = re.compile(r"^ALTER\s+TABLE\s+\S+\s+(?:ADD|DROP|MODIFY|RENAME)\s+COLUMN\b", re.I)
# How 18.16 logs a clickhouse-go batch: its rows follow as native blocks.
BATCH_INSERT = re.compile(r"^INSERT\s+INTO\s+(\S+)\s*\(([^()]*)\)\s*FORMAT\s+Native\s*$", re.I | re.S)
# Answers that depend on the moment or on the server itself cannot be compared.
UNCOMPARABLE = re.compile(
    r"\b(?:now|today|yesterday|rand\w*|generateUUID\w*|version|uptime|currentDatabase)\s*\(|\bsystem\.", re.I)


class Reference:
    """ClickHouse 18.16, over HTTP."""

    def __init__(self, url):
        self.url = url.rstrip("/") + "/?" + urllib.parse.urlencode({"default_format": "TabSeparated"})

    def query(self, sql):
        try:
            with urllib.request.urlopen(urllib.request.Request(self.url, data=sql.encode()), timeout=120) as resp:
                return resp.read().decode()
        except urllib.error.HTTPError as err:
            raise RuntimeError(err.read().decode(errors="replace").strip()) from None


class Current:
    """Current ClickHouse, in process, with its data in a directory of its own."""

    def __init__(self, path):
        self.session = chdb_session.Session(path)
        # Rows are stored as inserted, duplicates included, as 18.16 stores them: current
        # releases would otherwise collapse a ReplacingMergeTree's duplicates within each
        # insert. The copies come from merged tables, but 18.16's OPTIMIZE may merge
        # nothing without saying so (optimize_throw_if_noop is off), and then a count of
        # stored rows would differ.
        self.query("SET optimize_on_insert = 0")

    def query(self, sql):
        return self.session.query(sql, "TabSeparated").bytes().decode()


def stage(sql):
    word = re.match(r"\s*(\w*)", sql).group(1).upper()
    if word == "CREATE" or (word == "ALTER" and COLUMN_ALTER.match(sql)):
        return "schema"
    if word in ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS"):
        return "read"
    if word == "DROP":
        return "drop"
    return "write"


def logged_statements(reference, since):
    """The distinct statements clickhouse-go sent since `since` that succeeded, in order."""
    reference.query("SYSTEM FLUSH LOGS")
    rows = reference.query(
        "SELECT query FROM system.query_log WHERE type = 2 AND event_date >= toDate(toDateTime(%d)) "
        "AND event_time >= toDateTime(%d) AND client_name LIKE 'clickhouse-go/%%' ORDER BY event_time "
        "FORMAT JSONEachRow" % (since, since))
    seen, ordered = set(), []
    for row in rows.splitlines():
        sql = json.loads(row)["query"].strip().rstrip(";").strip()
        if sql and sql not in seen:
            seen.add(sql)
            ordered.append(sql)
    return ordered


def build_schema(current, statements, failures):
    """Runs the schema statements, retrying those logged before what they need: the log
    orders statements of the same second by when they finished."""
    pending = statements
    while pending:
        failed = []
        for sql in pending:
            try:
                current.query(sql)
            except RuntimeError as err:
                failed.append((sql, str(err)))
        if len(failed) == len(pending):
            failures.extend(("schema", sql, err) for sql, err in failed)
            return
        pending = [sql for sql, _ in failed]


def copy_rows(reference, current, databases, workdir):
    """Copies the MergeTree tables of the databases still on 18.16, merged; returns the
    rows copied and the databases now on both servers."""
    rows_copied, copied = 0, set()
    present = set(reference.query("SELECT name FROM system.databases").split())
    for database in databases:
        if database not in present:
            continue
        copied.add(database)
        tables = reference.query(
            "SELECT name FROM system.tables WHERE database = '%s' AND engine LIKE '%%MergeTree'" % database).split()
        for table in tables:
            # Merged first, so that 18.16 cannot merge a table's rows (dropping replaced
            # ones) between the copy and the reads: a read of stored rows without FINAL
            # would then answer differently on the two servers.
            reference.query("OPTIMIZE TABLE %s.%s FINAL" % (database, table))
            columns = reference.query(
                "SELECT name FROM system.columns WHERE database = '%s' AND table = '%s'" % (database, table)).split()
            names = ", ".join("`%s`" % name for name in columns)
            rows = reference.query("SELECT %s FROM %s.%s" % (names, database, table))
            if not rows:
                continue
            path = os.path.join(workdir, "%s.%s.tsv" % (database, table))
            with open(path, "w") as f:
                f.write(rows)
            current.query("INSERT INTO %s.%s (%s) FROM INFILE '%s' FORMAT TabSeparated" % (database, table, names, path))
            rows_copied += rows.count("\n")
    return rows_copied, copied


def comparable(sql, copied):
    """Whether both servers hold every row sql reads, and its answer is not of the moment."""
    if UNCOMPARABLE.search(sql):
        return False
    referenced = set(DATABASE_REFERENCE.findall(sql))
    return bool(referenced) and referenced <= copied


def as_written(sql):
    """The statement to run for sql: a batch INSERT inserts no rows."""
    batch = BATCH_INSERT.match(sql)
    if not batch:
        return sql
    table, columns = batch.group(1), batch.group(2)
    return "INSERT INTO %s (%s) SELECT %s FROM %s LIMIT 0" % (table, columns, columns, table)


def short(text, limit=400):
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + " …"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--since", type=int, required=True, help="Unix time the tests began")
    parser.add_argument("--http", required=True, help="ClickHouse 18.16's HTTP address")
    parser.add_argument("--drop-test-databases", action="store_true",
                        help="drop every test database from 18.16 at the end")
    args = parser.parse_args()

    started = time.monotonic()
    reference = Reference(args.http)
    statements = logged_statements(reference, args.since)
    took = {"log": time.monotonic() - started}
    if not statements:
        print("no statements in ClickHouse 18.16's query log since %d: run the integration tests first" % args.since)
        return 1
    stages = {"schema": [], "read": [], "write": [], "drop": []}
    for sql in statements:
        stages[stage(sql)].append(sql)
    databases = []
    for sql in stages["schema"]:
        created = CREATE_DATABASE.match(sql)
        if created and TEST_DATABASE.match(created.group(1)) and created.group(1) not in databases:
            databases.append(created.group(1))

    failures, differences = [], []
    with tempfile.TemporaryDirectory(prefix="hcstream-current-clickhouse-") as workdir:
        current = Current(os.path.join(workdir, "data"))
        version = current.query("SELECT version()").strip()

        mark = time.monotonic()
        build_schema(current, stages["schema"], failures)
        took["schema"], mark = time.monotonic() - mark, time.monotonic()
        rows_copied, copied = copy_rows(reference, current, databases, workdir)
        took["rows"], mark = time.monotonic() - mark, time.monotonic()

        compared = 0
        for sql in stages["read"]:
            try:
                answer = current.query(sql)
            except RuntimeError as err:
                failures.append(("read", sql, str(err)))
                continue
            if not comparable(sql, copied):
                continue
            try:
                expected = reference.query(sql)
            except RuntimeError:
                continue  # a test dropped what it reads, after it ran
            compared += 1
            if sorted(answer.splitlines()) != sorted(expected.splitlines()):
                differences.append((sql, expected, answer))
        took["reads"], mark = time.monotonic() - mark, time.monotonic()

        for name in ("write", "drop"):
            for sql in stages[name]:
                try:
                    current.query(as_written(sql))
                except RuntimeError as err:
                    failures.append((name, sql, str(err)))
        took["writes and drops"], mark = time.monotonic() - mark, time.monotonic()

    if args.drop_test_databases:
        test_databases = [name for name in reference.query("SELECT name FROM system.databases").split()
                          if TEST_DATABASE.match(name)]
        # A drop waits on the disk most of its time (0.6 s each on the CI machine), so
        # four at once.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda name: reference.query("DROP DATABASE IF EXISTS %s" % name), test_databases))
        took["dropping the test databases"] = time.monotonic() - mark

    print("ClickHouse %s: %d distinct statements logged by 18.16 (%d schema, %d reads, %d writes, %d drops); "
          "%d rows copied from %d test databases; %d answers compared; %.1f s (%s)"
          % (version, len(statements), len(stages["schema"]), len(stages["read"]), len(stages["write"]),
             len(stages["drop"]), rows_copied, len(copied), compared, time.monotonic() - started,
             ", ".join("%s %.1f s" % (name, seconds) for name, seconds in took.items())))
    for name, sql, err in failures:
        print("\nFAILED (%s): %s\n  %s" % (name, short(sql), short(err, 800)))
    for sql, expected, answer in differences:
        print("\nDIFFERENT ANSWER: %s\n  18.16:   %s\n  current: %s" % (short(sql), short(expected), short(answer)))
    if failures or differences:
        print("\n%d statements failed and %d reads answered differently on ClickHouse %s"
              % (len(failures), len(differences), version))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
