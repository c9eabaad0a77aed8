#!/usr/bin/env python3
"""sluicectl: the operators' command line over sluiced's HTTP admin API.

Postfix's habits over sluice's API: `queue` is qshape (domains by age),
`queue list` and `inspect` are postqueue -p and postcat, `retry`, `bounce`
and `purge` are postsuper -r / postqueue -f, postsuper -d; `suspend`,
`resume`, `sites`, `top`, `failures`, `suppression ...` and `config check`
have no Postfix twin. Standard-library Python 3 only (urllib, json,
argparse, curses), so it runs with Debian's python3 anywhere sluiced runs:

    python3 tools/sluicectl.py queue --top 20
    python3 tools/sluicectl.py --json inspect 01KB...

Every subcommand takes --json (the API's JSON on stdout). Exit codes are
listed in EXIT_CODES below and in --help; errors go to stderr with the
server's {"error":{"field","message"}} text.
"""

import argparse
import csv
import io
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http import client as http_client

DEFAULT_URL = "http://127.0.0.1:8025"  # listen.http in the embedded defaults
DEFAULT_TIMEOUT = 60.0

EXIT_OK = 0
EXIT_SERVER = 1       # the server answered an error (4xx/5xx other than below)
EXIT_USAGE = 2        # usage error (argparse's own code too)
EXIT_NOT_FOUND = 3    # 404: unknown message id, absent suppression
EXIT_REFUSED = 4      # 401, 403, 429
EXIT_UNREACHABLE = 5  # cannot reach sluiced (or, for config check, find it)

EXIT_CODES = """\
exit codes:
  0  ok
  1  the server answered an error (4xx/5xx other than below)
  2  usage error (bad options; purge and bounce without --yes)
  3  not found (404: unknown message id, absent suppression)
  4  refused (401 no or unknown token, 403 missing scope, 429 rate limit)
  5  cannot reach sluiced (config check: cannot find the sluiced binary)

environment:
  SLUICE_URL    the API's base URL (default %s)
  SLUICE_TOKEN  the API key's bearer token (--token and --token-file win)
  SLUICED       the sluiced binary, for config check
""" % DEFAULT_URL

FILTERS = ("site", "domain", "tenant", "campaign", "queue")
SUSPEND_SCOPES = ("site", "domain", "tenant", "campaign")
GROUP_BY = ("domain", "site", "tenant", "campaign")
SITE_SORTS = ("ready", "in_flight", "connections", "window", "delivered_per_minute", "site")
MAX_PAGE = 1000  # the API's largest page (messages, sites, suppressions)
MAX_ADD = 10000  # entries per POST /api/v1/suppressions


class CtlError(Exception):
    """Ends the command: `message` on stderr, exit status `code`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class UsageError(CtlError):
    def __init__(self, message):
        super().__init__(EXIT_USAGE, message)


def _server_message(body):
    """The text of an {"error":{"field","message"}} body ("field: message"),
    or the body itself when it is not one."""
    try:
        error = json.loads(body)["error"]
        field, message = error.get("field") or "", error.get("message") or ""
        return f"{field}: {message}" if field else message
    except (ValueError, KeyError, TypeError, AttributeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        return text.strip() or "(no message)"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would replay the Authorization header to wherever a redirect
    # points; sluiced never redirects, so a redirect is an error.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"unexpected redirect to {newurl}",
                                     headers, fp)


class Client:
    """The HTTP API: JSON in and out, errors as CtlError with the exit code."""

    def __init__(self, url, token=None, timeout=DEFAULT_TIMEOUT, cacert=None):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        context = ssl.create_default_context(cafile=cacert) if cacert else None
        handlers = [urllib.request.ProxyHandler({}), _NoRedirect()]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)

    def target(self, path, params=None):
        query = urllib.parse.urlencode([(k, v) for k, v in (params or []) if v is not None],
                                       quote_via=urllib.parse.quote)
        return path + ("?" + query if query else "")

    def call(self, method, path, params=None, body=None, content_type=None, raw=False):
        """The answer to one request: parsed JSON, or bytes when `raw`."""
        target = self.target(path, params)
        headers = {"Accept": "application/json" if not raw else "*/*"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
                content_type = content_type or "application/json"
            headers["Content-Type"] = content_type or "application/octet-stream"
        request = urllib.request.Request(self.url + target, data=body, method=method,
                                         headers=headers)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as error:
            data = error.read() if error.fp is not None else b""
            raise self._refusal(method, path, error.code, data, error.headers) from None
        except urllib.error.URLError as error:
            raise CtlError(EXIT_UNREACHABLE,
                           f"cannot reach sluiced at {self.url}: {error.reason}") from None
        except (OSError, http_client.HTTPException) as error:
            what = "timed out" if isinstance(error, (socket.timeout, TimeoutError)) else error
            raise CtlError(EXIT_UNREACHABLE,
                           f"cannot reach sluiced at {self.url}: {what}") from None
        if raw:
            return data
        try:
            return json.loads(data)
        except ValueError:
            raise CtlError(EXIT_SERVER, f"{method} {path}: the answer is not JSON: "
                                        f"{data[:200]!r}") from None

    def get(self, path, params=None, **kw):
        return self.call("GET", path, params, **kw)

    def _refusal(self, method, path, status, body, headers):
        message = _server_message(body)
        if status == 401:
            return CtlError(EXIT_REFUSED, f"401 unauthorized: {message} (give an API key's "
                                          "token with --token, --token-file or SLUICE_TOKEN)")
        if status == 403:
            return CtlError(EXIT_REFUSED, f"403 forbidden: {message} (the token's key lacks "
                                          "the scope: --token with a read or admin key)")
        if status == 429:
            wait = headers.get("Retry-After") if headers is not None else None
            after = f"; retry after {wait} s" if wait else ""
            return CtlError(EXIT_REFUSED, f"429 rate limited: {message}{after} (the key's "
                                          "rate_per_second; another --token has its own)")
        if status == 404 and message.startswith("no such resource"):
            return CtlError(EXIT_SERVER, f"404: {message} (this sluiced does not serve "
                                         f"{method} {path}: older than sluicectl?)")
        if status == 405:
            return CtlError(EXIT_SERVER, f"405: {message} (this sluiced does not serve "
                                         f"{method} {path}: older than sluicectl?)")
        if status == 404:
            return CtlError(EXIT_NOT_FOUND, f"404 not found: {message}")
        return CtlError(EXIT_SERVER, f"{status}: {message}")


# ---- output helpers -----------------------------------------------------------


def print_json(value, out=None):
    out = out or sys.stdout
    json.dump(value, out, indent=2, ensure_ascii=False)
    out.write("\n")


def table(headers, rows, right=()):
    """Lines of a plain table: columns as wide as their widest cell, the
    columns whose index is in `right` right-aligned, the last one unpadded."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = []
        for i, cell in enumerate(row):
            if i == len(row) - 1 and i not in right:
                parts.append(cell)
            elif i in right:
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
    return lines


def age(seconds):
    """A short duration: 45s, 12m, 3h, 2d."""
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{sign}{seconds // size}{unit}"
    return f"{sign}{seconds}s"


def utc(unix_ms):
    if not unix_ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(unix_ms / 1000))


def number(value):
    """Integers as they are, other numbers with one decimal."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    if isinstance(value, (int, float)):
        return str(int(value))
    return str(value)


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal; one line per
    step when forced (--progress) onto something else; nothing when off."""

    def __init__(self, label, total, unit, enabled, stream=None):
        self.stream = stream or sys.stderr
        self.label, self.total, self.unit, self.enabled = label, total, unit, enabled
        self.tty = enabled and self.stream.isatty()
        self.done = 0

    def update(self, done, note=""):
        self.done = done
        if not self.enabled:
            return
        total = max(self.total, 1)
        if self.tty:
            width = shutil.get_terminal_size((80, 24)).columns
            bar_width = max(10, min(40, width - 50))
            filled = min(bar_width, bar_width * done // total)
            line = (f"\r{self.label} [{'#' * filled}{'.' * (bar_width - filled)}] "
                    f"{done}/{self.total} {self.unit} {note}")
            self.stream.write(line[:width - 1].ljust(width - 1))
        else:
            self.stream.write(f"{self.label}: {done}/{self.total} {self.unit} {note}".rstrip()
                              + "\n")
        self.stream.flush()

    def finish(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ---- filters --------------------------------------------------------------------


def filter_params(args, names=FILTERS):
    return [(name, getattr(args, name)) for name in names
            if getattr(args, name, None) is not None]


def filter_text(params):
    return " ".join(f"{k}={v}" for k, v in params) or "everything"


def require_filter(args, action):
    params = filter_params(args)
    if not params or all(v == "" for _, v in params):
        raise UsageError(f"{action} needs at least one filter: --site, --domain, --tenant, "
                         "--campaign or --queue")
    return params


# ---- queue: qshape ------------------------------------------------------------------


def cmd_queue(ctx, args):
    if args.queue_command == "list":
        return cmd_queue_list(ctx, args)
    params = [("group_by", args.by)] + filter_params(args)
    answer = ctx.client.get("/api/v1/queues", params)
    groups = answer.get("groups", [])
    if args.top is not None:
        groups = groups[:args.top]
        answer = dict(answer, groups=groups)
    if ctx.json:
        print_json(answer)
        return EXIT_OK
    for line in qshape_lines(answer, groups, args.by):
        print(line)
    if "age_buckets_minutes" not in answer:
        print("sluicectl: this sluiced reports no ages (older than sluicectl?): "
              "only the totals are shown", file=sys.stderr)
    return EXIT_OK


def qshape_lines(answer, groups, by):
    """The qshape table: T (envelopes) and one column per age bucket, in
    minutes, the last one everything older; TOTAL first."""
    buckets = answer.get("age_buckets_minutes")
    total = answer.get("total", {"envelopes": 0})
    if buckets is not None:
        headers = [by.upper(), "T"] + [str(b) for b in buckets] + [f"{buckets[-1]}+"]
    else:
        headers = [by.upper(), "T"]

    def row(key, counts):
        cells = [key, counts.get("envelopes", 0)]
        if buckets is not None:
            ages = counts.get("ages") or [0] * (len(buckets) + 1)
            cells += ages
        return cells

    rows = [row("TOTAL", total)] + [row(g["key"] or "(none)", g) for g in groups]
    return table(headers, rows, right=set(range(len(headers))))


def cmd_queue_list(ctx, args):
    params = filter_params(args)
    limit = args.limit
    page_size = max(1, min(args.page_size, MAX_PAGE))
    messages, after = [], ""
    while limit == 0 or len(messages) < limit:
        want = page_size if limit == 0 else min(page_size, limit - len(messages))
        answer = ctx.client.get("/api/v1/messages",
                                params + [("limit", str(want))] + ([("after", after)] if after
                                                                   else []))
        page = answer.get("messages", [])
        messages.extend(page)
        after = answer.get("next") or ""
        if not after or not page:
            after = ""
            break
    if limit and len(messages) > limit:
        messages = messages[:limit]
    if ctx.json:
        print_json({"messages": messages, "next": after})
        return EXIT_OK
    now_ms = time.time() * 1000
    rows = []
    for m in messages:
        rows.append([m.get("id", ""), age((now_ms - m.get("created_unix_ms", now_ms)) / 1000),
                     m.get("size", 0), m.get("attempts", 0), m.get("recipients", 0),
                     age((m.get("next_due_unix_ms", now_ms) - now_ms) / 1000),
                     m.get("domain", ""), m.get("campaign", "") or "-",
                     m.get("sender", "") or "<>", m.get("last_reply", "")])
    for line in table(["ID", "AGE", "SIZE", "TRIES", "RCPTS", "DUE", "DOMAIN", "CAMPAIGN",
                       "SENDER", "LAST REPLY"], rows, right={1, 2, 3, 4, 5}):
        print(line)
    more = " (more: raise --limit, 0 for all)" if after else ""
    size = sum(m.get("size", 0) for m in messages)
    print(f"-- {len(messages)} messages, {size} bytes{more}")
    return EXIT_OK


def cmd_inspect(ctx, args):
    envelope = ctx.client.get("/api/v1/messages/" + urllib.parse.quote(args.id, safe=""))
    if ctx.json:
        print_json(envelope)
        return EXIT_OK
    now_ms = time.time() * 1000
    created = envelope.get("created_unix_ms", 0)
    due = envelope.get("next_due_unix_ms", 0)
    fields = [
        ("id", envelope.get("id", "")),
        ("body id", envelope.get("body_id", "")),
        ("sender", envelope.get("sender", "") or "<>"),
        ("created", f"{utc(created)} ({age((now_ms - created) / 1000)} ago)"),
        ("next due", f"{utc(due)} ({'in ' + age((due - now_ms) / 1000) if due > now_ms else 'now'})"
         if due else "-"),
        ("attempts", envelope.get("attempts", 0)),
        ("size", envelope.get("size", 0)),
    ]
    for name in ("tenant", "campaign", "pool", "queue", "domain", "site", "envid", "last_reply"):
        fields.append((name.replace("_", " "), envelope.get(name, "") or "-"))
    for name, value in fields:
        print(f"{name + ':':<12} {value}")
    recipients = envelope.get("recipients", [])
    print(f"recipients:  {len(recipients)}")
    for line in table(["  ADDRESS", "STATE", "TRIES", "LAST REPLY"],
                      [["  " + r.get("address", ""), r.get("state", ""), r.get("attempts", 0),
                        r.get("last_reply", "")] for r in recipients], right={2}):
        print(line)
    return EXIT_OK


# ---- suspend, resume, retry, bounce, purge ---------------------------------------------


def cmd_suspend(ctx, args):
    verb = "suspend" if args.command == "suspend" else "resume"
    [(scope, value)] = filter_params(args, SUSPEND_SCOPES)
    if value == "":
        raise UsageError(f"--{scope} must not be empty")
    answer = ctx.client.call("POST", f"/api/v1/{verb}", [(scope, value)])
    if ctx.json:
        print_json(answer)
    else:
        print(f"{verb}ed {scope} {value}" if verb == "suspend" else f"resumed {scope} {value}")
    return EXIT_OK


def cmd_retry(ctx, args):
    params = filter_params(args)
    answer = ctx.client.call("POST", "/api/v1/retry", params)
    if ctx.json:
        print_json(answer)
    else:
        print(f"rescheduled {answer.get('rescheduled', 0)} envelopes ({filter_text(params)}) "
              "to be tried now")
    return EXIT_OK


def progress_wanted(args):
    if args.progress is not None:
        return args.progress
    return sys.stderr.isatty()


def bulk(ctx, args, action):
    """bounce or purge: one request, or with a progress bar group by group
    (counted per domain first, then acted on with the filter and that
    domain), the count being the sum of the answers."""
    params = require_filter(args, action)
    if action == "bounce":
        method, path, key, verb = "POST", "/api/v1/bounce", "bounced", "bouncing"
        extra = [("reason", args.reason)] if args.reason is not None else []
    else:
        method, path, key, verb = "DELETE", "/api/v1/messages", "purged", "purging"
        extra = []
    if args.dry_run:
        counts = ctx.client.get("/api/v1/queues", [("group_by", "domain")] + params)
        if ctx.json:
            print_json(counts)
        else:
            total = counts.get("total", {})
            print(f"would {action} {total.get('envelopes', 0)} envelopes "
                  f"({total.get('recipients', 0)} recipients) in "
                  f"{len(counts.get('groups', []))} domains ({filter_text(params)})")
        return EXIT_OK
    if not args.yes:
        raise UsageError(f"{action} acts on every envelope matching {filter_text(params)} and "
                         "cannot be undone: add --yes (--dry-run counts them)")
    if not progress_wanted(args):
        answer = ctx.client.call(method, path, params + extra)
        acted = answer.get(key, 0)
    else:
        counts = ctx.client.get("/api/v1/queues", [("group_by", "domain")] + params)
        groups = counts.get("groups", [])
        bar = Progress(verb, counts.get("total", {}).get("envelopes", 0), "envelopes", True)
        bar.update(0)
        acted = done = 0
        sweep = False
        try:
            for group in groups:
                if group["key"] == "":
                    sweep = True  # "domain=" would match every domain: done last
                    continue
                scoped = [(k, v) for k, v in params if k != "domain"] + [("domain", group["key"])]
                acted += ctx.client.call(method, path, scoped + extra).get(key, 0)
                done += group.get("envelopes", 0)
                bar.update(done, group["key"])
            if sweep:
                acted += ctx.client.call(method, path, params + extra).get(key, 0)
                bar.update(bar.total)
        finally:
            bar.finish()
        answer = {key: acted}
    if ctx.json:
        print_json(answer)
    else:
        print(f"{key} {acted} envelopes ({filter_text(params)})")
    return EXIT_OK


def cmd_bounce(ctx, args):
    return bulk(ctx, args, "bounce")


def cmd_purge(ctx, args):
    return bulk(ctx, args, "purge")


# ---- sites, failures, top -----------------------------------------------------------------


def fetch_sites(client, sort=None, order=None, q=None, suspended=None, limit=None, offset=None):
    """GET /api/v1/sites with server-side sorting, filtering and paging. An
    older sluiced answers without "total" and ignores those parameters;
    then they are applied here to the same effect."""
    params = [("sort", sort), ("order", order), ("q", q),
              ("suspended", None if suspended is None else ("true" if suspended else "false")),
              ("limit", None if limit is None else str(limit)),
              ("offset", None if offset is None else str(offset))]
    answer = client.get("/api/v1/sites", params)
    if "total" in answer or all(v is None for _, v in params):
        return answer
    queues = answer.get("queues", [])
    if q:
        queues = [s for s in queues if q in s.get("site", "") or q in s.get("pool", "")]
    if suspended is not None:
        queues = [s for s in queues if bool(s.get("suspended")) == suspended]
    if sort:
        descending = (order or ("asc" if sort == "site" else "desc")) == "desc"
        queues = sorted(queues, key=lambda s: s.get(sort, 0), reverse=descending)
    total, start = len(queues), offset or 0
    queues = queues[start:start + limit] if limit is not None else queues[start:]
    return {"total": total, "offset": start, "queues": queues}


def site_lines(queues):
    rows = [[s.get("site", ""), s.get("pool", "") or "-", s.get("ready", 0),
             s.get("in_flight", 0), s.get("connections", 0), s.get("window", 0),
             number(s.get("delivered_per_minute", 0)), "yes" if s.get("suspended") else "-",
             s.get("last_error", "")] for s in queues]
    return table(["SITE", "POOL", "READY", "INFLIGHT", "CONNS", "WINDOW", "DLV/MIN", "SUSP",
                  "LAST ERROR"], rows, right={2, 3, 4, 5, 6})


def cmd_sites(ctx, args):
    suspended = None if args.suspended is None else args.suspended == "true"
    answer = fetch_sites(ctx.client, args.sort, args.order, args.filter, suspended, args.limit,
                         args.offset)
    if ctx.json:
        print_json(answer)
        return EXIT_OK
    queues = answer.get("queues", [])
    for line in site_lines(queues):
        print(line)
    total = answer.get("total", len(queues))
    start = answer.get("offset", 0)
    shown = f"{start + 1}-{start + len(queues)} of {total}" if queues else f"0 of {total}"
    print(f"-- sites {shown}")
    return EXIT_OK


def cmd_failures(ctx, args):
    params = [("site", args.site), ("limit", None if args.limit is None else str(args.limit))]
    answer = ctx.client.get("/api/v1/failures", params)
    if ctx.json:
        print_json(answer)
        return EXIT_OK
    rows = [[g.get("site", ""), g.get("type", ""), g.get("category", "") or "-",
             g.get("status", "") or "-", g.get("count", 0),
             age(time.time() - g.get("last_unix_ms", 0) / 1000) + " ago", g.get("reply", "")]
            for g in answer.get("groups", [])]
    for line in table(["SITE", "TYPE", "CATEGORY", "STATUS", "COUNT", "LAST", "REPLY"], rows,
                      right={4}):
        print(line)
    return EXIT_OK


def top_fetch(client, sites):
    """(stats or None, a note on why not, the sites answer)."""
    try:
        stats, note = client.get("/api/v1/stats"), ""
    except CtlError as error:
        if error.code in (EXIT_REFUSED, EXIT_UNREACHABLE):
            raise
        stats, note = None, error.message
    return stats, note, fetch_sites(client, sort="ready", order="desc", limit=sites)


def top_lines(url, interval, stats, note, sites_answer, tail=""):
    """The lines of one frame of `top`."""
    now = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    lines = [f"sluicectl top - {url} - {now} - every {interval:g}s{tail}"]
    if stats is None:
        lines.append(f"stats     not available: {note}")
    else:
        rates = stats.get("rates", {})
        gauges = stats.get("gauges", {})
        latency = stats.get("latency", {})
        totals = stats.get("totals", {})
        lines.append("rates/s   " + "  ".join(
            f"{name} {rates.get(name, 0):.1f}"
            for name in ("accepted", "delivered", "deferred", "bounced")))
        lines.append(f"queue     scheduled {gauges.get('queue_scheduled', 0)}  "
                     f"ready {gauges.get('queue_ready', 0)}    connections out "
                     f"{gauges.get('connections_outbound', 0)}  in "
                     f"{gauges.get('connections_inbound', 0)}")
        lines.append(f"latency   spool commit p99 {latency.get('spool_commit_p99_ms', 0):.1f} ms"
                     f"  loop lag p99 {latency.get('loop_lag_p99_ms', 0):.1f} ms")
        lines.append("totals    " + "  ".join(
            f"{name} {totals.get(name, 0)}"
            for name in ("accepted", "delivered", "deferred", "bounced", "expired")))
    queues = sites_answer.get("queues", [])
    lines.append(f"sites     {sites_answer.get('total', len(queues))} live queues, busiest "
                 "by ready:")
    lines.append("")
    lines.extend(site_lines(queues))
    return lines


def cmd_top(ctx, args):
    if args.once or args.iterations is not None:
        frames = 1 if args.once else args.iterations
        for i in range(frames):
            stats, note, sites = top_fetch(ctx.client, args.sites)
            if ctx.json:
                print_json({"stats": stats, "sites": sites})
            else:
                if i:
                    print()
                for line in top_lines(ctx.client.url, args.interval, stats, note, sites):
                    print(line)
            sys.stdout.flush()
            if i + 1 < frames:
                time.sleep(args.interval)
        return EXIT_OK
    if ctx.json:
        raise UsageError("top --json needs --once or --iterations N")
    if not sys.stdout.isatty():
        raise UsageError("top needs a terminal; use --once or --iterations N in scripts")
    # The first fetch outside curses, so a refusal reads like any other
    # command's and exits with its code.
    first = top_fetch(ctx.client, args.sites or 200)
    import curses
    return curses.wrapper(lambda screen: top_loop(screen, ctx, args, first))


def top_loop(screen, ctx, args, first):
    import curses
    curses.curs_set(0)
    screen.timeout(max(50, int(args.interval * 1000)))
    data, error = first, ""
    while True:
        height, width = screen.getmaxyx()
        stats, note, sites = data
        tail = "  (q quits)" + (f"  [{error}]" if error else "")
        lines = top_lines(ctx.client.url, args.interval, stats, note, sites, tail)
        screen.erase()
        header_rows = len(lines) - len(sites.get("queues", [])) - 1
        for y, line in enumerate(lines[:height]):
            attr = curses.A_REVERSE if y == 0 else (curses.A_BOLD if y == header_rows else 0)
            try:
                screen.addnstr(y, 0, line, max(1, width - 1), attr)
            except curses.error:
                pass
        screen.refresh()
        key = screen.getch()
        if key in (ord("q"), ord("Q")):
            return EXIT_OK
        if key == curses.KEY_RESIZE:
            continue
        rows = args.sites or max(1, height - header_rows - 1)
        try:
            data, error = top_fetch(ctx.client, rows), ""
        except CtlError as failure:
            error = failure.message  # keep the last frame; try again next time


# ---- suppression -------------------------------------------------------------------------


def cmd_suppression(ctx, args):
    return SUPPRESSION_COMMANDS[args.suppression_command](ctx, args)


def entry_text(entry):
    scope = f"tenant {entry['tenant']}" if entry.get("tenant") else "every tenant"
    parts = [scope, entry.get("source", "")]
    if entry.get("reason"):
        parts.append(f"reason {entry['reason']!r}")
    parts.append(f"since {entry.get('created') or '-'}")
    parts.append(f"until {entry['expires']}" if entry.get("expires") else "never expires")
    return ", ".join(p for p in parts if p)


def cmd_suppression_list(ctx, args):
    params = [("tenant", args.tenant), ("prefix", args.prefix)]
    entries, after = [], args.after
    while args.limit == 0 or len(entries) < args.limit:
        want = MAX_PAGE if args.limit == 0 else min(MAX_PAGE, args.limit - len(entries))
        answer = ctx.client.get("/api/v1/suppressions",
                                params + [("after", after), ("limit", str(want))])
        page = answer.get("entries", [])
        entries.extend(page)
        after = answer.get("next")
        if not after or not page:
            after = None
            break
    if ctx.json:
        print_json({"entries": entries, "next": after})
        return EXIT_OK
    rows = [[e.get("address", ""), e.get("tenant", "") or "(global)", e.get("source", ""),
             e.get("created") or "-", e.get("expires") or "never", e.get("reason", "")]
            for e in entries]
    for line in table(["ADDRESS", "TENANT", "SOURCE", "CREATED", "EXPIRES", "REASON"], rows):
        print(line)
    more = f" (more after {after}: --after or a larger --limit)" if after else ""
    print(f"-- {len(entries)} entries{more}")
    return EXIT_OK


def cmd_suppression_add(ctx, args):
    entries = []
    for address in args.addresses:
        entry = {"address": address}
        if args.reason is not None:
            entry["reason"] = args.reason
        if args.expires is not None:
            entry["expires"] = args.expires
        entries.append(entry)
    added = 0
    for start in range(0, len(entries), MAX_ADD):
        body = {"tenant": args.tenant or "", "entries": entries[start:start + MAX_ADD]}
        added += ctx.client.call("POST", "/api/v1/suppressions", body=body).get("added", 0)
    if ctx.json:
        print_json({"added": added})
    else:
        scope = f"tenant {args.tenant}" if args.tenant else "every tenant"
        print(f"added {added} entries ({scope})")
    return EXIT_OK


def cmd_suppression_remove(ctx, args):
    removed, absent = 0, []
    for address in args.addresses:
        path = "/api/v1/suppressions/" + urllib.parse.quote(address, safe="")
        try:
            removed += ctx.client.call("DELETE", path,
                                       [("tenant", args.tenant)]).get("removed", 0)
        except CtlError as error:
            if error.code != EXIT_NOT_FOUND:
                raise
            absent.append(address)  # the others are still removed
    if ctx.json:
        print_json({"removed": removed})
    else:
        print(f"removed {removed} entries")
    if absent:
        scope = f"tenant {args.tenant}'s" if args.tenant else "the global"
        raise CtlError(EXIT_NOT_FOUND, f"404 not found: not on {scope} list: "
                                       + ", ".join(absent))
    return EXIT_OK


def cmd_suppression_check(ctx, args):
    answer = ctx.client.get("/api/v1/suppressions/check",
                            [("tenant", args.tenant), ("address", args.address)])
    if ctx.json:
        print_json(answer)
    elif answer.get("suppressed"):
        print(f"{args.address}: suppressed: {entry_text(answer.get('entry') or {})}")
    else:
        print(f"{args.address}: not suppressed")
    return EXIT_OK


def csv_records(data):
    """`data` (bytes) split into CSV records, each with its line ends and
    the physical line it starts on: a record ends at a line end outside
    quotes (RFC 4180: a quote inside a field is doubled, so the parity of
    the quotes seen tells)."""
    records, current, quotes, line, start = [], [], 0, 1, 1
    for piece in data.splitlines(keepends=True):
        if not current:
            start = line
        current.append(piece)
        quotes += piece.count(b'"')
        line += 1
        if quotes % 2 == 0:
            records.append((start, b"".join(current)))
            current, quotes = [], 0
    if current:
        records.append((start, b"".join(current)))  # an unterminated quote: the server says so
    return records


def remap_line(text, offset):
    """Every "line K" of a chunk's error as the file's line (K + offset)."""
    return re.sub(r"\bline (\d+)", lambda m: f"line {int(m.group(1)) + offset}", text)


def cmd_suppression_import(ctx, args):
    if args.file == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(args.file, "rb") as f:
                data = f.read()
        except OSError as error:
            raise UsageError(f"{args.file}: {error.strerror}") from None
    records = csv_records(data)
    if not records:
        raise UsageError(f"{args.file}: empty; the first line names the columns "
                         "(address, tenant, source, reason, created, expires)")
    (_, header), rows = records[0], records[1:]
    if not header.endswith(b"\n"):
        header += b"\r\n"
    header_lines = header.count(b"\n")
    chunk_rows = max(1, args.chunk_rows)
    bar = Progress("importing", len(rows), "rows", progress_wanted(args))
    imported = refused = 0
    errors = []
    bar.update(0)
    try:
        for start in range(0, max(len(rows), 1), chunk_rows):
            chunk = rows[start:start + chunk_rows]
            body = header + b"".join(text for _, text in chunk)
            # Line k (k > header_lines) of the chunk is line first + k -
            # header_lines - 1 of the file.
            offset = (chunk[0][0] - header_lines - 1) if chunk else 0
            try:
                answer = ctx.client.call("POST", "/api/v1/suppressions/import",
                                         [("tenant", args.tenant)], body=body,
                                         content_type="text/csv")
            except CtlError as error:
                error.message = remap_line(error.message, offset)
                if start:
                    error.message += (f" (the rows before line {chunk[0][0]} were sent: "
                                      f"{imported} imported, {refused} refused)")
                raise
            imported += answer.get("imported", 0)
            refused += answer.get("refused", 0)
            for text in answer.get("errors", []):
                if len(errors) < 20:
                    errors.append(remap_line(text, offset))
            bar.update(min(len(rows), start + len(chunk)))
    finally:
        bar.finish()
    result = {"imported": imported, "refused": refused, "errors": errors}
    if ctx.json:
        print_json(result)
        return EXIT_OK
    print(f"imported {imported} entries, refused {refused}")
    for text in errors:
        print(f"  {text}")
    return EXIT_OK


def cmd_suppression_export(ctx, args):
    data = ctx.client.get("/api/v1/suppressions/export", [("tenant", args.tenant)], raw=True)
    if ctx.json:
        text = data.decode("utf-8", "replace")
        print_json({"entries": list(csv.DictReader(io.StringIO(text, newline="")))})
        return EXIT_OK
    if args.output and args.output != "-":
        with open(args.output, "wb") as f:
            f.write(data)
        print(f"exported {max(0, len(csv_records(data)) - 1)} entries to {args.output}",
              file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK


SUPPRESSION_COMMANDS = {
    "list": cmd_suppression_list,
    "add": cmd_suppression_add,
    "remove": cmd_suppression_remove,
    "check": cmd_suppression_check,
    "import": cmd_suppression_import,
    "export": cmd_suppression_export,
}


# ---- config check --------------------------------------------------------------------------


def find_sluiced(explicit):
    """The sluiced binary: --sluiced, $SLUICED, next to sluicectl (also the
    source tree's and Bazel's server/sluiced beside tools/), or PATH."""
    if explicit:
        candidates = [("--sluiced", explicit)]
    elif os.environ.get("SLUICED"):
        candidates = [("SLUICED", os.environ["SLUICED"])]
    else:
        here = os.path.dirname(os.path.realpath(__file__))
        candidates = [("next to sluicectl", os.path.join(here, "sluiced")),
                      ("next to sluicectl", os.path.join(here, "..", "server", "sluiced")),
                      ("PATH", shutil.which("sluiced") or "")]
    for _, path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    where = "; ".join(f"{how}: {path or '(none)'}" for how, path in candidates)
    raise CtlError(EXIT_UNREACHABLE, f"cannot find the sluiced binary ({where}): give "
                                     "--sluiced PATH or set SLUICED")


def cmd_config(ctx, args):
    binary = find_sluiced(args.sluiced)
    if not os.path.isfile(args.file):
        raise UsageError(f"{args.file}: no such file")
    try:
        run = subprocess.run([binary, "--check_config", "--config", args.file],
                             capture_output=True, text=True, errors="replace",
                             timeout=ctx.timeout)
    except OSError as error:
        raise CtlError(EXIT_UNREACHABLE, f"cannot run {binary}: {error.strerror}") from None
    except subprocess.TimeoutExpired:
        raise CtlError(EXIT_SERVER, f"{binary} --check_config took over {ctx.timeout:g} s") \
            from None
    output = (run.stdout + run.stderr).strip()
    if "check_config" in output and "nknown command line flag" in output:
        raise CtlError(EXIT_SERVER, f"{binary} has no --check_config (older than sluicectl?)")
    ok = run.returncode == 0
    if ctx.json:
        print_json({"file": args.file, "ok": ok, "output": output})
    elif ok:
        if output and output != "configuration OK":
            print(output, file=sys.stderr)
        print("configuration OK")
    else:
        print(output or f"sluiced exited with {run.returncode}", file=sys.stderr)
    return EXIT_OK if ok else EXIT_SERVER


# ---- the command line -----------------------------------------------------------------------


class Context:
    def __init__(self, args):
        self.json = getattr(args, "json", False)
        self.timeout = getattr(args, "timeout", DEFAULT_TIMEOUT)
        url = getattr(args, "url", None) or os.environ.get("SLUICE_URL") or DEFAULT_URL
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise UsageError(f"--url {url!r}: not an http:// or https:// URL")
        if parsed.username is not None or parsed.password is not None:
            raise UsageError("--url must not carry credentials; give the token with --token, "
                             "--token-file or SLUICE_TOKEN")
        if parsed.query or parsed.fragment:
            raise UsageError(f"--url {url!r}: a base URL has no query or fragment")
        token = getattr(args, "token", None)
        if token is None and getattr(args, "token_file", None):
            try:
                with open(args.token_file) as f:
                    token = f.read().strip()
            except OSError as error:
                raise UsageError(f"--token-file {args.token_file}: {error.strerror}") from None
        if token is None:
            token = os.environ.get("SLUICE_TOKEN") or None
        if token is not None and any(c in token for c in "\r\n"):
            raise UsageError("the token must be one line")
        self.client = Client(url, token, self.timeout, getattr(args, "cacert", None))


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def not_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def seconds(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def build_parser():
    S = argparse.SUPPRESS
    # Options every command takes, before or after its name; SUPPRESS keeps
    # a subcommand's absent option from hiding the one given before it.
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("connection and output")
    g.add_argument("--url", default=S,
                   help=f"sluiced's HTTP API (env SLUICE_URL; default {DEFAULT_URL})")
    g.add_argument("--token", default=S,
                   help="API key's bearer token (env SLUICE_TOKEN); sent as Authorization: "
                        "Bearer, never in the URL")
    g.add_argument("--token-file", default=S, metavar="FILE",
                   help="read the token from FILE (keeps it out of ps)")
    g.add_argument("--cacert", default=S, metavar="FILE",
                   help="CA certificates for an https:// URL")
    g.add_argument("--timeout", type=seconds, default=S, metavar="SECONDS",
                   help=f"per request (default {DEFAULT_TIMEOUT:g})")
    g.add_argument("--json", action="store_true", default=S,
                   help="print the API's JSON instead of a table")

    filters = argparse.ArgumentParser(add_help=False)
    f = filters.add_argument_group("filters (all given must match)")
    for name in FILTERS:
        f.add_argument(f"--{name}", default=S, metavar=name.upper())

    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="sluicectl", parents=[common], formatter_class=formatter,
        description="Operate a running sluiced over its HTTP admin API.",
        epilog=EXIT_CODES)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(parent, name, help, extra=(), **kw):
        p = parent.add_parser(name, help=help, description=help, parents=[common, *extra],
                              formatter_class=formatter, epilog=EXIT_CODES, **kw)
        return p

    q = command(sub, "queue", "the queue by domain and age, like qshape (queue list: "
                              "the messages)", [filters])
    q.add_argument("--by", choices=GROUP_BY, default="domain",
                   help="rows by domain (default), site, tenant or campaign")
    q.add_argument("--top", type=positive, metavar="N", help="only the N largest rows")
    q.set_defaults(handler=cmd_queue, queue_command=None)
    qsub = q.add_subparsers(dest="queue_command", metavar="list")
    ql = command(qsub, "list", "the queued messages, oldest first", [filters])
    ql.add_argument("--limit", type=not_negative, default=100, metavar="N",
                    help="at most N messages (default 100; 0: all)")
    ql.add_argument("--page-size", type=positive, default=MAX_PAGE, help=S)

    p = command(sub, "inspect", "one message: its envelope and each recipient's state")
    p.add_argument("id", metavar="ID")
    p.set_defaults(handler=cmd_inspect)

    for name, what in (("suspend", "stop delivering"), ("resume", "deliver again")):
        p = command(sub, name, f"{what} for one site, domain, tenant or campaign")
        scope = p.add_argument_group("exactly one of").add_mutually_exclusive_group(
            required=True)
        for s in SUSPEND_SCOPES:
            scope.add_argument(f"--{s}", default=S, metavar=s.upper())
        p.set_defaults(handler=cmd_suspend)

    p = command(sub, "retry", "make matching envelopes due now (no filter: all)", [filters])
    p.set_defaults(handler=cmd_retry)

    for name, what in (("bounce", "bounce matching envelopes now, with DSNs"),
                       ("purge", "delete matching envelopes, without DSNs")):
        p = command(sub, name, what + " (a filter and --yes required)", [filters])
        if name == "bounce":
            p.add_argument("--reason", help="the reason the DSNs give")
        p.add_argument("--yes", action="store_true", help="really do it")
        p.add_argument("--dry-run", action="store_true",
                       help="only count what matches (GET /api/v1/queues)")
        p.add_argument("--progress", action="store_true", default=None,
                       help="a progress bar on stderr, acting domain by domain (default "
                            "when stderr is a terminal)")
        p.add_argument("--no-progress", dest="progress", action="store_false",
                       help="one request, no progress bar")
        p.set_defaults(handler=cmd_bounce if name == "bounce" else cmd_purge)

    p = command(sub, "sites", "the live delivery queues (sorted, filtered and paged by "
                              "sluiced)")
    p.add_argument("--sort", choices=SITE_SORTS, help="sort key (sluiced's default: ready)")
    p.add_argument("--order", choices=("asc", "desc"))
    p.add_argument("--filter", metavar="TEXT", help="sites or pools containing TEXT")
    p.add_argument("--suspended", choices=("true", "false"),
                   help="only suspended (true) or unsuspended (false) queues")
    p.add_argument("--limit", type=positive, metavar="N", help="at most N (1-1000)")
    p.add_argument("--offset", type=not_negative, metavar="N", help="skip the first N")
    p.set_defaults(handler=cmd_sites)

    p = command(sub, "failures", "recent deferral and bounce reasons, grouped by site")
    p.add_argument("--site", help="one site only")
    p.add_argument("--limit", type=positive, metavar="N", help="at most N groups")
    p.set_defaults(handler=cmd_failures)

    p = command(sub, "top", "live rates, queue depth, latency and the busiest sites "
                            "(q quits)")
    p.add_argument("--interval", type=seconds, default=2.0, metavar="SECONDS",
                   help="refresh every SECONDS (default 2)")
    p.add_argument("--once", action="store_true", help="print one frame and exit (no curses)")
    p.add_argument("--iterations", type=positive, metavar="N",
                   help="print N frames, one per interval, and exit (no curses)")
    p.add_argument("--sites", type=positive, metavar="N",
                   help="site rows (default: what fits; 20 with --once)")
    p.set_defaults(handler=cmd_top)

    p = command(sub, "suppression", "the suppression list: list, add, remove, check, "
                                    "import, export")
    p.set_defaults(handler=cmd_suppression)
    ssub = p.add_subparsers(dest="suppression_command", metavar="ACTION", required=True)
    tenant = argparse.ArgumentParser(add_help=False)
    tenant.add_argument("--tenant", default=None,
                        help="the tenant's scope (default: the global one, every tenant)")
    s = command(ssub, "list", "entries in address order", [tenant])
    s.add_argument("--prefix", help="addresses starting with PREFIX")
    s.add_argument("--after", help="start after this address (a listing's next)")
    s.add_argument("--limit", type=not_negative, default=100, metavar="N",
                   help="at most N entries (default 100; 0: all)")
    s = command(ssub, "add", "add or replace entries (source operator)", [tenant])
    s.add_argument("addresses", nargs="+", metavar="ADDRESS")
    s.add_argument("--reason")
    s.add_argument("--expires", metavar="TIME", help="RFC 3339 (default: never)")
    s = command(ssub, "remove", "remove entries (exit 3 if one is absent)", [tenant])
    s.add_argument("addresses", nargs="+", metavar="ADDRESS")
    s = command(ssub, "check", "what refuses ADDRESS to the tenant (its scope, then global)",
                [tenant])
    s.add_argument("address", metavar="ADDRESS")
    s = command(ssub, "import", "import a CSV file (- for stdin) in chunks", [tenant])
    s.add_argument("file", metavar="FILE")
    s.add_argument("--chunk-rows", type=positive, default=5000, metavar="N",
                   help="rows per request (default 5000)")
    s.add_argument("--progress", action="store_true", default=None,
                   help="progress on stderr (default when stderr is a terminal)")
    s.add_argument("--no-progress", dest="progress", action="store_false")
    s = command(ssub, "export", "the scope as CSV", [tenant])
    s.add_argument("--output", "-o", metavar="FILE", help="write to FILE (default stdout)")

    p = command(sub, "config", "check a configuration file with sluiced --check_config")
    csub = p.add_subparsers(dest="config_command", metavar="check", required=True)
    c = command(csub, "check", "sluiced --check_config --config FILE; exit 0 when OK, 1 "
                               "with the error")
    c.add_argument("file", metavar="FILE")
    c.add_argument("--sluiced", metavar="PATH",
                   help="the sluiced binary (default: $SLUICED, next to sluicectl, PATH)")
    p.set_defaults(handler=cmd_config)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        ctx = Context(args)
        return args.handler(ctx, args)
    except CtlError as error:
        print(f"sluicectl: {error.message}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `sluicectl queue list | head`: not an error. Point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
