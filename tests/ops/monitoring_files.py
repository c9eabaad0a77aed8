"""monitoring_files: reads the shipped monitoring files (ops/grafana/sluice.json,
ops/prometheus/sluice-alerts.yml) and the PromQL in them, for tests/ops.

    dashboard = load_dashboard(root)
    dashboard_queries(dashboard)   # [(where, expr as Grafana stores it)]
    variable_queries(dashboard)    # [(name, metric, label)] from label_values()
    alert_rules(root)              # [rule dict] of every group
    to_promql(expr)                # Grafana's $variables replaced, plain PromQL
    metric_names(expr)             # {"sluice_..."} the expression reads
    selectors(expr)                # [(metric, [(label, op, value)])]
    aggregations(expr)             # [([label], {metric})]: by (...) and what it aggregates
    Exposition(text)               # a parsed /metrics answer (families, labels, values)

Only the standard library and PyYAML (Debian's python3-yaml).
"""
import json
import os
import re

try:
    import yaml
except ImportError:
    raise SystemExit("FAIL: python3 lacks yaml: install the Debian package python3-yaml")

DASHBOARD = os.path.join("ops", "grafana", "sluice.json")
ALERT_RULES = os.path.join("ops", "prometheus", "sluice-alerts.yml")
ALERT_TESTS = os.path.join("ops", "prometheus", "sluice-alerts.test.yml")

# Labels Prometheus adds to every scraped series; a by (...) may name them.
TARGET_LABELS = {"job", "instance"}

# What Grafana puts in place of its built-in variables when it sends a query.
_GRAFANA_BUILTINS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_METRIC = re.compile(r"(?<![\w:])sluice_[A-Za-z0-9_:]*")
_SELECTOR = re.compile(r"(?<![\w:])(sluice_[A-Za-z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
_LABEL_VALUES = re.compile(r"^label_values\(\s*(\w+)\s*,\s*(\w+)\s*\)$")


def load_dashboard(root):
    with open(os.path.join(root, DASHBOARD)) as f:
        return json.load(f)


def dashboard_queries(dashboard):
    """Every target's expression, with where it is ("panel 3 'title' A")."""
    return [(f"panel {panel.get('id')} {panel.get('title')!r} {target.get('refId')}",
             target["expr"])
            for panel in dashboard.get("panels", []) for target in panel.get("targets", [])
            if "expr" in target]


def variable_queries(dashboard):
    """(name, metric, label) of every query variable; a query that is not
    label_values(metric, label) is returned with metric None."""
    out = []
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        match = _LABEL_VALUES.match(query.strip())
        out.append((variable["name"],) + (match.groups() if match else (None, query)))
    return out


def _load_yaml(root, path):
    with open(os.path.join(root, path)) as f:
        return yaml.safe_load(f)


def alert_rules(root):
    return [rule for group in _load_yaml(root, ALERT_RULES)["groups"] for rule in group["rules"]]


def alert_tests(root):
    return _load_yaml(root, ALERT_TESTS)


def to_promql(expr):
    """The query Grafana would send: built-in intervals become durations and
    template variables (used only in regex matchers, site=~"$site") match
    everything."""
    for name, value in _GRAFANA_BUILTINS.items():
        expr = expr.replace(name, value)
    return _VARIABLE.sub(".*", expr)


def _without_strings(expr):
    return _STRING.sub('""', expr)


def metric_names(expr):
    return set(_METRIC.findall(_without_strings(expr)))


def selectors(expr):
    """Each sluice metric written with {matchers}: (metric, [(label, op, value)])."""
    out = []
    for match in _SELECTOR.finditer(expr):
        body, matchers, at = match.group(2), [], 0
        while body[at:].strip():
            m = _MATCHER.match(body, at)
            if m is None:
                raise ValueError(f"cannot read the matchers {{{body}}} in {expr!r}")
            matchers.append((m.group(1), m.group(2), m.group(3)))
            at = m.end()
        out.append((match.group(1), matchers))
    return out


def aggregations(expr):
    """Each `by (labels) (argument)`: the labels and the sluice metrics the
    argument reads. The house form puts by (...) before the argument;
    anything else raises, so no grouping goes unchecked."""
    text = _without_strings(expr)
    out = []
    for match in _BY.finditer(text):
        rest = text[match.end():]
        stripped = rest.lstrip()
        if not stripped.startswith("("):
            raise ValueError(f"by (...) not followed by its argument in {expr!r}; write "
                             f"sum by (labels) (argument)")
        start = len(rest) - len(stripped)
        depth = 0
        for i, char in enumerate(rest[start:], start):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                break
        argument = rest[start:i + 1]
        labels = [label.strip() for label in match.group(1).split(",") if label.strip()]
        out.append((labels, set(_METRIC.findall(argument))))
    return out


class Exposition:
    """A Prometheus text exposition: which families it declares (# TYPE)
    and, per family, the label sets of its samples."""

    _SAMPLE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
    _LABEL = re.compile(r'([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"')

    def __init__(self, text):
        self.types = {}    # family -> counter, gauge, histogram, ...
        self.samples = {}  # family -> [(sample name, {label: value}, value)]
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind.strip()
            elif line and not line.startswith("#"):
                match = self._SAMPLE.match(line)
                if match is None:
                    raise ValueError(f"unreadable sample line {line!r}")
                name = match.group(1)
                labels = dict(self._LABEL.findall(match.group(2) or ""))
                self.samples.setdefault(self.family(name) or name, []).append(
                    (name, labels, float(match.group(3))))

    def family(self, name):
        """The family a sample or query name belongs to: itself, or a
        histogram's (summary's) _bucket, _sum, _count. None when undeclared."""
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and self.types.get(base) in ("histogram", "summary"):
                if suffix != "_bucket" or self.types[base] == "histogram":
                    return base
        return None

    def series(self, name):
        """The label sets of the samples a query for `name` selects."""
        family = self.family(name)
        return [labels for sample, labels, _ in self.samples.get(family, []) if sample == name]

    def value(self, name, **labels):
        """The value of the one sample of `name` with exactly `labels`."""
        found = [v for sample, l, v in self.samples.get(self.family(name), [])
                 if sample == name and l == labels]
        if len(found) != 1:
            raise KeyError(f"{len(found)} samples {name}{labels}")
        return found[0]
