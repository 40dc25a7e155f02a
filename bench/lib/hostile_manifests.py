"""Hostile manifests just under the 10 MiB cap, one file per shape, written into the directory
argv[1]; prints the shape names, one a line. Each is refused by cronix; the bench measures what the
refusal costs. Shapes: a jobs array of 0s, of {}s, a job with millions of secret_refs, schedules or
headers, an object with a million keys (and one with a million repeats of one key), deep nesting
repeated side by side, a tree within every per-container limit (about 250 jobs of 256 arrays of 80 numbers),
arbitrary JSON in the body and in an unknown field, one long string, and
(typo-keys) a manifest within every limit that holds ~47,500 mistakes."""
import sys

LIMIT = 10 * 1024 * 1024 - 64
HEAD = '{"version":1,"app":"a","jobs":['
JOB_OPEN = '{"name":"j","schedule":"@daily","request":{"url":"https://a.example/x"}'


def fill(prefix, item, suffix, sep=","):
    """prefix + item, item, ... + suffix, as many items as fit under LIMIT."""
    n = (LIMIT - len(prefix) - len(suffix)) // (len(item) + len(sep))
    return prefix + sep.join([item] * n) + suffix


def keys(prefix, suffix, value="0"):
    parts, size, i = [], len(prefix) + len(suffix), 0
    while True:
        part = '"k%d":%s' % (i, value)
        if size + len(part) + 1 > LIMIT:
            break
        parts.append(part)
        size += len(part) + 1
        i += 1
    return prefix + ",".join(parts) + suffix


def nest(depth):
    return "[" * depth + "]" * depth


def typo_keys():
    """256 jobs with 44 unknown 59-character keys in each of request, policy, retries and auth (and 10 in
    the job): within every limit of the size pass, so the checker reports ~47,500 problems (100 kept,
    the rest counted). Refused with 100 listed problems and a count, not one."""
    def ks(prefix, n):
        return ",".join('"%s%058d":0' % (prefix, i) for i in range(n))
    job = ('{"name":"j%d","schedule":"@daily","request":{"url":"https://a.example/x",' + ks("r", 44) +
           '},"policy":{"retries":{' + ks("t", 44) + '},' + ks("p", 44) + '},"auth":{' + ks("a", 44) +
           '},' + ks("j", 10) + '}')
    return HEAD + ",".join(job % i for i in range(256)) + "]}"


SHAPES = {
    "jobs-of-zeros": lambda: fill('{"jobs":[', "0", "]}"),
    "jobs-of-empty-objects": lambda: fill(HEAD, "{}", "]}"),
    "secret-refs": lambda: fill(HEAD + JOB_OPEN + ',"auth":{"secret_refs":[', '"a"', "]}}]}"),
    "schedules": lambda: fill(HEAD + '{"name":"j","request":{"url":"https://a.example/x"},"schedules":[',
                              '"@daily"', "]}]}"),
    "headers": lambda: keys(HEAD + '{"name":"j","schedule":"@daily","request":{"url":"https://a.example/x","headers":{',
                            "}}}]}", '"v"'),
    "many-keys": lambda: keys(HEAD + JOB_OPEN + "}],", "}"),
    "repeated-key": lambda: fill("{", '"app":"a"', "}"),
    "deep-nesting": lambda: fill(HEAD + JOB_OPEN + ',"x":[', nest(120), "]}]}"),
    "json-in-body": lambda: keys(HEAD + '{"name":"j","schedule":"@daily","request":{"url":"https://a.example/x","body":{',
                                 "}}}]}", "[{},[]]"),
    "wide-tree": lambda: fill(HEAD, '{"x":[%s]}' % ",".join(["[%s]" % ",".join(["0"] * 80)] * 256), "]}"),
    "typo-keys": typo_keys,
    "long-string": lambda: HEAD + JOB_OPEN[:-1] + ',"body":"%s"}}]}' % ("b" * (LIMIT - 200)),
}

if __name__ == "__main__":
    out = sys.argv[1]
    only = sys.argv[2:] or list(SHAPES)
    for name in only:
        text = SHAPES[name]()
        assert len(text) <= 10 * 1024 * 1024, (name, len(text))
        with open("%s/%s.json" % (out, name), "w") as f:
            f.write(text)
        print(name)
