#!/usr/bin/env python3
"""Writes the api-*.in / api-*.out golden cases for issue 7 (the Kafka-level
offsets API: metadata, generations and fencing, commit_offsets,
fetch_offsets, list_groups, delete_offsets, delete_group).

Run from this directory:  python3 api-cases.py

Every expected reply below is typed by hand from the spec; this script only
numbers the messages (request msg_id k+2 gets reply msg_id k+1) and wraps
bodies in src/dest. It never runs the node. The long-metadata cases build
their strings by repetition ("a" * 4096 in, "a" * 4096 out), which is the
only reason they are generated rather than typed.

Expected reply strings are JSON text exactly as Python's json.dumps writes
it: non-ASCII as \\uXXXX (surrogate pairs above U+FFFF), \\" \\\\ \\n \\r \\t
\\b \\f, other control characters and U+007F as \\u00XX, <>&/ as they are.
"""

INIT = '{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}'
INIT_OK = '{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}'


def q(s):
    """A plain ASCII string as JSON text (no escaping needed)."""
    assert all(0x20 <= ord(c) < 0x7F and c not in '"\\' for c in s), s
    return '"' + s + '"'


# ---- requests: (type, body fields as raw JSON text) ----

def co(g, t, p, o, extra=""):
    """commit_offset; g and t are JSON text (use q() for plain strings)."""
    return ("commit_offset", f'"group":{g},"topic":{t},"partition":{p},"offset":{o}{extra}')


def e(t, p, o, extra=""):
    """One commit_offsets entry as JSON text."""
    return f'{{"topic":{t},"partition":{p},"offset":{o}{extra}}}'


def cos(g, entries, extra=""):
    return ("commit_offsets", f'"group":{g}{extra},"offsets":[{",".join(entries)}]')


def fo_req(g, t, p):
    return ("fetch_offset", f'"group":{g},"topic":{t},"partition":{p}')


def fos_req(g, extra=""):
    return ("fetch_offsets", f'"group":{g}{extra}')


def lg_req(extra=""):
    return ("list_groups", extra.lstrip(","))


def do_req(g, t, extra=""):
    return ("delete_offsets", f'"group":{g},"topic":{t}{extra}')


def dg_req(g, extra=""):
    return ("delete_group", f'"group":{g}{extra}')


def raw(typ, fields):
    return (typ, fields)


# ---- replies: (type, fields after in_reply_to as JSON text) ----

CO_OK = ("commit_offset_ok", "")
COS_OK = ("commit_offsets_ok", "")


def fo(n):
    return ("fetch_offset_ok", f'"offset": {n}')


def ent(t, p, o, md='""'):
    """One fetch_offsets entry; t and md are JSON text as the node must write them."""
    return f'{{"topic": {t}, "partition": {p}, "offset": {o}, "metadata": {md}}}'


def fos(*entries):
    return ("fetch_offsets_ok", '"offsets": [' + ", ".join(entries) + "]")


def lg(*groups):
    return ("list_groups_ok", '"groups": [' + ", ".join(groups) + "]")


def dl(k):
    return ("delete_offsets_ok", f'"deleted": {k}')


def dg(k):
    return ("delete_group_ok", f'"deleted": {k}')


def err(code, text):
    """text is the JSON-escaped content of the error text (without quotes)."""
    return ("error", f'"code": {code}, "text": "{text}"')


def fenced(low, high):
    return err(22, f"generation {low} is fenced: the group has moved on to generation {high}")


def bad(field, what):
    return err(12, f'field \\"{field}\\" {what}')


def missing(field):
    return err(12, f'missing required field \\"{field}\\"')


NONEMPTY = "must be a non-empty string"
PART = "must be an integer in [0, 2147483647]"
OFF = "must be an integer in [0, 9223372036854775807]"
GEN = "must be an integer in [0, 2147483647]"
META = "must be a string of at most 4096 bytes in UTF-8"
ARRAY = "must be an array"
OBJECT = "must be an object"

CASES = {}


def case(name, steps, init=True):
    assert name.startswith("api-"), name
    assert name not in CASES, name
    CASES[name] = (steps, init)


def write(name, steps, init):
    ins, outs = [], []
    if init:
        ins.append(INIT)
        outs.append(INIT_OK)
    first = 2 if init else 1
    for k, step in enumerate(steps):
        mid = first + k
        if step[0] == "INIT":  # an init in the middle of a case
            ins.append(f'{{"src":"c0","dest":"n1","body":{{"type":"init","msg_id":{mid},"node_id":"n1","node_ids":["n1"]}}}}')
            outs.append(f'{{"src": "n1", "dest": "c0", "body": {{"type": "init_ok", "in_reply_to": {mid}, "msg_id": {len(outs)}}}}}')
            continue
        (rtype, rfields), (ptype, pfields) = step
        ins.append(f'{{"src":"c1","dest":"n1","body":{{"type":"{rtype}","msg_id":{mid}' +
                   (f",{rfields}" if rfields else "") + "}}")
        outs.append(f'{{"src": "n1", "dest": "c1", "body": {{"type": "{ptype}", "in_reply_to": {mid}' +
                    (f", {pfields}" if pfields else "") + f', "msg_id": {len(outs)}}}}}')
    with open(name + ".in", "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(ins) + "\n")
    with open(name + ".out", "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(outs) + "\n")


# =========================== seed compatibility ===========================

# The seed task's two sample tests, byte for byte (the same as seed-*.in).
case("api-seed-roundtrip", [
    (co(q("g1"), q("t1"), 0, 10), CO_OK),
    (fo_req(q("g1"), q("t1"), 0), fo(10)),
])
case("api-seed-independent-groups", [
    (co(q("fast"), q("t1"), 0, 100), CO_OK),
    (co(q("slow"), q("t1"), 0, 5), CO_OK),
    (fo_req(q("fast"), q("t1"), 0), fo(100)),
    (fo_req(q("slow"), q("t1"), 0), fo(5)),
])
# commit_offset/fetch_offset replies are unchanged when the new optional
# fields are given; a plain commit shows up in fetch_offsets with "".
case("api-seed-replies-unchanged-with-new-fields", [
    (co(q("g1"), q("t1"), 0, 10), CO_OK),
    (fo_req(q("g1"), q("t1"), 0), fo(10)),
    (fos_req(q("g1")), fos(ent('"t1"', 0, 10))),
    (lg_req(), lg('"g1"')),
    (co(q("g1"), q("t1"), 0, 11, ',"metadata":"m","generation":1'), CO_OK),
    (fo_req(q("g1"), q("t1"), 0), fo(11)),
    (fos_req(q("g1")), fos(ent('"t1"', 0, 11, '"m"'))),
])

# =============================== metadata ===============================

case("api-metadata-escaping", [
    # literal UTF-8: 2-byte, 3-byte, 4-byte (surrogate pair out)
    (co(q("g"), q("t"), 0, 1, ',"metadata":"é訂🚀"'), CO_OK),
    # the same characters sent as escapes
    (co(q("g"), q("t"), 1, 2, r',"metadata":"\u00e9\u8a02\ud83d\ude80"'), CO_OK),
    # quotes, backslashes, < > & / (and the optional \/ escape, written back as /)
    (co(q("g"), q("t"), 2, 3, r',"metadata":"say \"hi\" C:\\dir\\ a/b \/ <b>&amp;</b>"'), CO_OK),
    # the short escapes
    (co(q("g"), q("t"), 3, 4, r',"metadata":"l1\nl2\tx\ry\bz\fw"'), CO_OK),
    # other control characters, DEL, and U+0080 (first non-ASCII)
    (co(q("g"), q("t"), 4, 5, r',"metadata":"\u0000\u0001\u001f\u007f\u0080 "'), CO_OK),
    # a literal DEL byte (legal unescaped in JSON)
    (co(q("g"), q("t"), 5, 6, ',"metadata":"a\x7fb"'), CO_OK),
    # U+2028/U+2029, BOM, U+FFFF, and a supplementary character sent as escapes
    (co(q("g"), q("t"), 6, 7, r',"metadata":"\u2028\u2029\ufeff\uffff\ud834\udd1e"'), CO_OK),
    (co(q("g"), q("t"), 7, 8, ',"metadata":""'), CO_OK),
    # non-ASCII topic in the reply is escaped too
    (co(q("g"), '"訂單"', 0, 9, ',"metadata":"Ω"'), CO_OK),
    (fos_req(q("g")), fos(
        ent('"t"', 0, 1, r'"\u00e9\u8a02\ud83d\ude80"'),
        ent('"t"', 1, 2, r'"\u00e9\u8a02\ud83d\ude80"'),
        ent('"t"', 2, 3, r'"say \"hi\" C:\\dir\\ a/b / <b>&amp;</b>"'),
        ent('"t"', 3, 4, r'"l1\nl2\tx\ry\bz\fw"'),
        ent('"t"', 4, 5, r'"\u0000\u0001\u001f\u007f\u0080 "'),
        ent('"t"', 5, 6, r'"a\u007fb"'),
        ent('"t"', 6, 7, r'"\u2028\u2029\ufeff\uffff\ud834\udd1e"'),
        ent('"t"', 7, 8, '""'),
        ent(r'"\u8a02\u55ae"', 0, 9, r'"\u03a9"'),
    )),
    (fos_req(q("g"), ',"topics":["訂單"]'), fos(ent(r'"\u8a02\u55ae"', 0, 9, r'"\u03a9"'))),
])

case("api-metadata-null-is-empty", [
    (co(q("g"), q("t"), 0, 5, ',"metadata":null'), CO_OK),
    (co(q("g"), q("t"), 1, 6), CO_OK),
    (co(q("g"), q("t"), 2, 7, ',"metadata":"x"'), CO_OK),
    (co(q("g"), q("t"), 2, 8), CO_OK),  # absent: the new commit's metadata is ""
    (co(q("g"), q("t"), 3, 9, ',"metadata":"y"'), CO_OK),
    (co(q("g"), q("t"), 3, 10, ',"metadata":null'), CO_OK),
    (cos(q("g"), [e(q("u"), 0, 11, ',"metadata":null'), e(q("u"), 1, 12)]), COS_OK),
    (fos_req(q("g")), fos(ent('"t"', 0, 5), ent('"t"', 1, 6), ent('"t"', 2, 8), ent('"t"', 3, 10),
                          ent('"u"', 0, 11), ent('"u"', 1, 12))),
])

# Kafka's offset.metadata.max.bytes: the limit is on the UTF-8 bytes of the
# decoded string, not on characters and not on the escaped input.
A4096, A4097 = "a" * 4096, "a" * 4097
case("api-metadata-max-bytes-ascii", [
    (co(q("g"), q("t"), 0, 1, f',"metadata":"{A4096}"'), CO_OK),
    (co(q("g"), q("t"), 1, 2, f',"metadata":"{A4097}"'), bad("metadata", META)),
    (co(q("g"), q("t"), 0, 3, f',"metadata":"{"b" * 4097}"'), bad("metadata", META)),
    (fos_req(q("g")), fos(ent('"t"', 0, 1, f'"{A4096}"'))),
    (fo_req(q("g"), q("t"), 1), fo(0)),
])
E2048 = r"\u00e9" * 2048
case("api-metadata-max-bytes-two-byte", [
    (co(q("g"), q("t"), 0, 1, f',"metadata":"{"é" * 2048}"'), CO_OK),       # 4096 bytes, 2048 chars
    (co(q("g"), q("t"), 1, 2, f',"metadata":"{"é" * 2049}"'), bad("metadata", META)),  # 4098 bytes
    (co(q("g"), q("t"), 2, 3, f',"metadata":"{E2048}"'), CO_OK),            # escaped: 12288 input bytes, 4096 UTF-8
    (co(q("g"), q("t"), 3, 4, f',"metadata":"{E2048}\\u00e9"'), bad("metadata", META)),
    (co(q("g"), q("t"), 4, 5, f',"metadata":"{"é" * 2047}ab"'), CO_OK),     # 4096 bytes
    (co(q("g"), q("t"), 5, 6, f',"metadata":"{"é" * 2047}abc"'), bad("metadata", META)),  # 4097 bytes
    (fos_req(q("g")), fos(ent('"t"', 0, 1, f'"{E2048}"'), ent('"t"', 2, 3, f'"{E2048}"'),
                          ent('"t"', 4, 5, '"' + r"\u00e9" * 2047 + 'ab"'))),
])
R1024 = r"\ud83d\ude80" * 1024
case("api-metadata-max-bytes-three-four-byte", [
    (co(q("g"), q("t"), 0, 1, f',"metadata":"{"🚀" * 1024}"'), CO_OK),      # 4096 bytes, 1024 code points
    (co(q("g"), q("t"), 1, 2, f',"metadata":"{"🚀" * 1025}"'), bad("metadata", META)),
    (co(q("g"), q("t"), 2, 3, f',"metadata":"{R1024}"'), CO_OK),            # as surrogate-pair escapes
    (co(q("g"), q("t"), 3, 4, f',"metadata":"{R1024}x"'), bad("metadata", META)),
    (co(q("g"), q("t"), 4, 5, f',"metadata":"{"訂" * 1365}a"'), CO_OK),     # 4095 + 1 bytes
    (co(q("g"), q("t"), 5, 6, f',"metadata":"{"訂" * 1366}"'), bad("metadata", META)),  # 4098 bytes
    (fos_req(q("g")), fos(ent('"t"', 0, 1, f'"{R1024}"'), ent('"t"', 2, 3, f'"{R1024}"'),
                          ent('"t"', 4, 5, '"' + r"\u8a02" * 1365 + 'a"'))),
])
case("api-metadata-max-bytes-decoded-escapes", [
    (co(q("g"), q("t"), 0, 1, ',"metadata":"' + r"\n" * 4096 + '"'), CO_OK),
    (co(q("g"), q("t"), 1, 2, ',"metadata":"' + r"\u0000" * 4096 + '"'), CO_OK),
    (co(q("g"), q("t"), 2, 3, ',"metadata":"' + r"\n" * 4097 + '"'), bad("metadata", META)),
    (fos_req(q("g")), fos(ent('"t"', 0, 1, '"' + r"\n" * 4096 + '"'),
                          ent('"t"', 1, 2, '"' + r"\u0000" * 4096 + '"'))),
])
case("api-metadata-max-bytes-commit-offsets", [
    (cos(q("g"), [e(q("t"), 0, 1, f',"metadata":"{A4096}"'), e(q("t"), 1, 2), e(q("t"), 2, 3),
                  e(q("t"), 3, 4, f',"metadata":"{A4097}"')]), bad("offsets[3].metadata", META)),
    (fos_req(q("g")), fos()),
    (cos(q("g"), [e(q("t"), 0, 1, f',"metadata":"{"é" * 2048}"'), e(q("t"), 1, 2, f',"metadata":"{A4096}"')]), COS_OK),
    (cos(q("g"), [e(q("t"), 2, 3, f',"metadata":"{"é" * 2049}"')]), bad("offsets[0].metadata", META)),
    (fos_req(q("g")), fos(ent('"t"', 0, 1, f'"{E2048}"'), ent('"t"', 1, 2, f'"{A4096}"'))),
])

# ============================== generation ==============================

case("api-generation-null-is-none", [
    (co(q("g"), q("t"), 0, 1, ',"generation":5'), CO_OK),
    (co(q("g"), q("t"), 0, 2, ',"generation":null'), CO_OK),   # not fenced (null is not 0)
    (co(q("g"), q("t"), 0, 3, ',"generation":4'), fenced(4, 5)),  # and null did not lower it
    (cos(q("g"), [e(q("t"), 0, 4)], ',"generation":null'), COS_OK),
    (cos(q("g"), [e(q("t"), 0, 9)], ',"generation":4'), fenced(4, 5)),
    (fo_req(q("g"), q("t"), 0), fo(4)),
])

# ============================ commit_offsets ============================

case("api-commit-offsets-basic", [
    (cos(q("g"), [e(q("t"), 0, 5), e(q("t"), 1, 6, ',"metadata":"m1"'), e(q("u"), 0, 7, ',"metadata":null')]), COS_OK),
    (fo_req(q("g"), q("t"), 1), fo(6)),
    (fos_req(q("g")), fos(ent('"t"', 0, 5), ent('"t"', 1, 6, '"m1"'), ent('"u"', 0, 7))),
    (co(q("g"), q("t"), 0, 8, ',"metadata":"c"'), CO_OK),
    (fos_req(q("g"), ',"topics":["t"]'), fos(ent('"t"', 0, 8, '"c"'), ent('"t"', 1, 6, '"m1"'))),
    (lg_req(), lg('"g"')),
])

case("api-commit-offsets-all-or-nothing", [
    (cos(q("g"), [e(q("t"), 0, 1), e(q("t"), 1, 2), e(q("t"), -1, 3)]), bad("offsets[2].partition", PART)),
    (fos_req(q("g")), fos()),
    (fo_req(q("g"), q("t"), 0), fo(0)),
    (lg_req(), lg()),
    (co(q("g"), q("t"), 0, 100), CO_OK),
    (cos(q("g"), [e(q("t"), 0, 1), e(q("u"), 0, 2), '"x"']), bad("offsets[2]", OBJECT)),
    (cos(q("g"), [e(q("t"), 0, 1), e(q("u"), 0, 2), '{"topic":"u","partition":1}']), missing("offsets[2].offset")),
    (fos_req(q("g")), fos(ent('"t"', 0, 100))),
])

case("api-commit-offsets-invalid-keeps-generation", [
    (cos(q("g"), [e(q("t"), 0, 1), e('""', 0, 1)], ',"generation":7'), bad("offsets[1].topic", NONEMPTY)),
    (co(q("g"), q("t"), 0, 5, ',"generation":3'), CO_OK),  # 7 was never accepted
    (fos_req(q("g")), fos(ent('"t"', 0, 5))),
])

case("api-commit-offsets-duplicate-later-wins", [
    (cos(q("g"), [e(q("t"), 0, 5, ',"metadata":"a"'), e(q("t"), 1, 9, ',"metadata":"x"'),
                  e(q("t"), 0, 7, ',"metadata":"b"'), e(q("t"), 1, 3)]), COS_OK),
    (fos_req(q("g")), fos(ent('"t"', 0, 7, '"b"'), ent('"t"', 1, 3))),
    (fo_req(q("g"), q("t"), 1), fo(3)),
])

case("api-commit-offsets-empty-list", [
    (cos(q("g"), []), COS_OK),
    (fos_req(q("g")), fos()),
    (lg_req(), lg()),
    (cos(q("g"), [], ',"generation":2'), COS_OK),
    (lg_req(), lg()),  # a generation alone is not a live offset
])

# ============================= fetch_offsets ============================

# topics "b","a","B","é","a b","🚀","｡"(U+FF61) x partitions 10, 9, 2,
# committed interleaved; offset = 7*pi + ti + 1.
_T = ['"b"', '"a"', '"B"', '"é"', '"a b"', '"🚀"', r'"\uff61"']
_sort_steps = []
for pi, p in enumerate([10, 9, 2]):
    for ti, t in enumerate(_T):
        _sort_steps.append((co(q("g"), t, p, 7 * pi + ti + 1), CO_OK))
_sort_steps.append((co(q("h"), q("a"), 0, 99), CO_OK))
_sort_steps.append((fos_req(q("g")), fos(
    # U+0042 < U+0061 < "a b" < U+0062 < U+00E9 < U+FF61 < U+1F680 (UTF-16 order would put the rocket before U+FF61)
    ent('"B"', 2, 17), ent('"B"', 9, 10), ent('"B"', 10, 3),
    ent('"a"', 2, 16), ent('"a"', 9, 9), ent('"a"', 10, 2),
    ent('"a b"', 2, 19), ent('"a b"', 9, 12), ent('"a b"', 10, 5),
    ent('"b"', 2, 15), ent('"b"', 9, 8), ent('"b"', 10, 1),
    ent(r'"\u00e9"', 2, 18), ent(r'"\u00e9"', 9, 11), ent(r'"\u00e9"', 10, 4),
    ent(r'"\uff61"', 2, 21), ent(r'"\uff61"', 9, 14), ent(r'"\uff61"', 10, 7),
    ent(r'"\ud83d\ude80"', 2, 20), ent(r'"\ud83d\ude80"', 9, 13), ent(r'"\ud83d\ude80"', 10, 6),
)))
# the filter's order does not set the output order
_sort_steps.append((fos_req(q("g"), ',"topics":["🚀","B"]'), fos(
    ent('"B"', 2, 17), ent('"B"', 9, 10), ent('"B"', 10, 3),
    ent(r'"\ud83d\ude80"', 2, 20), ent(r'"\ud83d\ude80"', 9, 13), ent(r'"\ud83d\ude80"', 10, 6),
)))
case("api-fetch-offsets-sort-order", _sort_steps)

case("api-fetch-offsets-topics-filter", [
    (co(q("g"), q("a"), 0, 1), CO_OK),
    (co(q("g"), q("b"), 1, 3), CO_OK),
    (co(q("g"), q("b"), 0, 2), CO_OK),
    (co(q("g"), q("c"), 0, 4), CO_OK),
    (fos_req(q("g"), ',"topics":["b"]'), fos(ent('"b"', 0, 2), ent('"b"', 1, 3))),
    (fos_req(q("g"), ',"topics":["c","a"]'), fos(ent('"a"', 0, 1), ent('"c"', 0, 4))),
    (fos_req(q("g"), ',"topics":["zzz"]'), fos()),
    (fos_req(q("g"), ',"topics":["zzz","c"]'), fos(ent('"c"', 0, 4))),
    (fos_req(q("g"), ',"topics":null'), fos(ent('"a"', 0, 1), ent('"b"', 0, 2), ent('"b"', 1, 3), ent('"c"', 0, 4))),
    (fos_req(q("g")), fos(ent('"a"', 0, 1), ent('"b"', 0, 2), ent('"b"', 1, 3), ent('"c"', 0, 4))),
    (fos_req(q("g"), ',"topics":["B"]'), fos()),
])

# An empty array is not absent or null: it keeps no topic.
case("api-fetch-offsets-topics-empty-array", [
    (co(q("g"), q("a"), 0, 1), CO_OK),
    (fos_req(q("g"), ',"topics":[]'), fos()),
])

# A topic named twice in the filter still lists each offset once.
case("api-fetch-offsets-topics-duplicate", [
    (co(q("g"), q("a"), 0, 1), CO_OK),
    (co(q("g"), q("a"), 1, 2), CO_OK),
    (fos_req(q("g"), ',"topics":["a","a"]'), fos(ent('"a"', 0, 1), ent('"a"', 1, 2))),
])

case("api-fetch-offsets-unknown-group", [
    (fos_req(q("nobody")), fos()),
    (co(q("g"), q("t"), 0, 1), CO_OK),
    (fos_req(q("G")), fos()),
    (fos_req(q("nobody"), ',"topics":["t"]'), fos()),
    (fos_req(q("g "), ',"topics":null'), fos()),
])

# A committed 0 is a live offset: listed, counted, and makes the group live.
case("api-fetch-offsets-zero-offset-is-live", [
    (co(q("g"), q("t"), 0, 0, ',"metadata":"m"'), CO_OK),
    (fos_req(q("g")), fos(ent('"t"', 0, 0, '"m"'))),
    (lg_req(), lg('"g"')),
    (do_req(q("g"), q("t")), dl(1)),
    (lg_req(), lg()),
])

case("api-fetch-offsets-extreme-values", [
    (co(q("g"), q("t"), 2147483647, 9223372036854775807), CO_OK),
    (co(q("g"), q("t"), 0, 9007199254740993), CO_OK),
    (fos_req(q("g")), fos(ent('"t"', 0, 9007199254740993), ent('"t"', 2147483647, 9223372036854775807))),
])

# ============================== list_groups =============================

case("api-list-groups-order", [
    (lg_req(), lg()),
    (co('"b"', q("t"), 0, 1), CO_OK),
    (co('"a"', q("t"), 0, 2), CO_OK),
    (co('"B"', q("t"), 0, 3), CO_OK),
    (co('"é"', q("t"), 0, 4), CO_OK),
    (co('"a b"', q("t"), 0, 5), CO_OK),
    (co('"🚀"', q("t"), 0, 6), CO_OK),
    (co(r'"\uff61"', q("t"), 0, 7), CO_OK),
    (co('"a"', q("u"), 3, 8), CO_OK),
    (lg_req(), lg('"B"', '"a"', '"a b"', '"b"', r'"\u00e9"', r'"\uff61"', r'"\ud83d\ude80"')),
])

case("api-list-groups-excludes-deleted", [
    (co(q("g1"), q("t"), 0, 1), CO_OK),
    (co(q("g1"), q("t"), 1, 2), CO_OK),
    (co(q("g2"), q("t"), 0, 3), CO_OK),
    (co(q("g3"), q("u"), 0, 4), CO_OK),
    (lg_req(), lg('"g1"', '"g2"', '"g3"')),
    (do_req(q("g1"), q("t"), ',"partitions":[0]'), dl(1)),
    (lg_req(), lg('"g1"', '"g2"', '"g3"')),
    (do_req(q("g1"), q("t"), ',"partitions":[1]'), dl(1)),
    (lg_req(), lg('"g2"', '"g3"')),
    (dg_req(q("g3")), dg(1)),
    (lg_req(), lg('"g2"')),
    (co(q("g1"), q("t"), 0, 5), CO_OK),
    (lg_req(), lg('"g1"', '"g2"')),
])

# ============================ delete_offsets ============================

case("api-delete-offsets-partitions", [
    (co(q("g"), q("t"), 0, 10, ',"metadata":"a"'), CO_OK),
    (co(q("g"), q("t"), 1, 11), CO_OK),
    (co(q("g"), q("t"), 2, 12), CO_OK),
    (co(q("g"), q("u"), 0, 13), CO_OK),
    (co(q("h"), q("t"), 0, 14), CO_OK),
    (do_req(q("g"), q("t"), ',"partitions":[0,2,5]'), dl(2)),  # 5 was never committed
    (fos_req(q("g")), fos(ent('"t"', 1, 11), ent('"u"', 0, 13))),
    (fo_req(q("g"), q("t"), 0), fo(0)),
    (fo_req(q("h"), q("t"), 0), fo(14)),
    (do_req(q("g"), q("t"), ',"partitions":[0]'), dl(0)),  # already gone
    (co(q("g"), q("t"), 0, 20), CO_OK),  # a fresh key: metadata "" not "a"
    (fos_req(q("g")), fos(ent('"t"', 0, 20), ent('"t"', 1, 11), ent('"u"', 0, 13))),
    (do_req(q("g"), q("t"), ',"partitions":[1,1]'), dl(1)),
    (fos_req(q("g")), fos(ent('"t"', 0, 20), ent('"u"', 0, 13))),
])

case("api-delete-offsets-whole-topic", [
    (co(q("g"), q("t"), 0, 1), CO_OK),
    (co(q("g"), q("t"), 1, 2), CO_OK),
    (co(q("g"), q("t"), 7, 3), CO_OK),
    (co(q("g"), q("u"), 0, 4), CO_OK),
    (co(q("h"), q("t"), 0, 5), CO_OK),
    (do_req(q("g"), q("t")), dl(3)),
    (fos_req(q("g")), fos(ent('"u"', 0, 4))),
    (fos_req(q("h")), fos(ent('"t"', 0, 5))),
    (co(q("g"), q("t"), 1, 6), CO_OK),
    (do_req(q("g"), q("t"), ',"partitions":null'), dl(1)),
    (do_req(q("g"), q("t")), dl(0)),
    (do_req(q("nobody"), q("t")), dl(0)),
    (do_req(q("g"), q("nothing")), dl(0)),
    (fos_req(q("g")), fos(ent('"u"', 0, 4))),
    (fo_req(q("g"), q("t"), 1), fo(0)),
])

# An empty array is not absent or null: it removes no partition.
case("api-delete-offsets-empty-partitions", [
    (co(q("g"), q("t"), 0, 1), CO_OK),
    (do_req(q("g"), q("t"), ',"partitions":[]'), dl(0)),
    (fos_req(q("g")), fos(ent('"t"', 0, 1))),
])

# ============================= delete_group =============================

case("api-delete-group", [
    (co(q("g"), q("t"), 0, 1, ',"metadata":"m","generation":5'), CO_OK),
    (co(q("g"), q("t"), 1, 2, ',"generation":5'), CO_OK),
    (co(q("g"), q("u"), 0, 3), CO_OK),
    (co(q("h"), q("t"), 0, 4, ',"generation":9'), CO_OK),
    (dg_req(q("g")), dg(3)),
    (fo_req(q("g"), q("t"), 0), fo(0)),
    (fos_req(q("g")), fos()),
    (lg_req(), lg('"h"')),
    (co(q("g"), q("t"), 0, 7, ',"generation":1'), CO_OK),  # generation reset
    (fos_req(q("g")), fos(ent('"t"', 0, 7))),
    (co(q("h"), q("t"), 0, 5, ',"generation":8'), fenced(8, 9)),  # other groups keep theirs
    (dg_req(q("nobody")), dg(0)),
    (dg_req(q("g")), dg(1)),
    (dg_req(q("g")), dg(0)),
    (lg_req(), lg('"h"')),
])

case("api-delete-group-generation-only", [
    (cos(q("g"), [], ',"generation":5'), COS_OK),
    (co(q("g"), q("t"), 0, 1, ',"generation":4'), fenced(4, 5)),
    (dg_req(q("g")), dg(0)),
    (co(q("g"), q("t"), 0, 1, ',"generation":4'), CO_OK),
    (fos_req(q("g")), fos(ent('"t"', 0, 1))),
])

# ================================ fencing ===============================

case("api-fencing-lower-refused-commit-offset", [
    (co(q("g"), q("t"), 0, 10, ',"metadata":"a","generation":3'), CO_OK),
    (co(q("g"), q("t"), 0, 20, ',"metadata":"b","generation":2'), fenced(2, 3)),
    (co(q("g"), q("t"), 1, 30, ',"generation":2'), fenced(2, 3)),
    (fos_req(q("g")), fos(ent('"t"', 0, 10, '"a"'))),
    (co(q("g"), q("t"), 0, 21, ',"generation":0'), fenced(0, 3)),
    (fo_req(q("g"), q("t"), 1), fo(0)),
    (fo_req(q("g"), q("t"), 0), fo(10)),
])

case("api-fencing-lower-refused-commit-offsets", [
    (cos(q("g"), [e(q("t"), 0, 10, ',"metadata":"a"')], ',"generation":3'), COS_OK),
    (cos(q("g"), [e(q("t"), 0, 20, ',"metadata":"b"'), e(q("t"), 1, 30)], ',"generation":2'), fenced(2, 3)),
    (fos_req(q("g")), fos(ent('"t"', 0, 10, '"a"'))),
    (cos(q("g"), [], ',"generation":1'), fenced(1, 3)),
    (co(q("g"), q("t"), 0, 11, ',"generation":2'), fenced(2, 3)),  # the refused messages did not lower it
    (fos_req(q("g")), fos(ent('"t"', 0, 10, '"a"'))),
])

case("api-fencing-equal-accepted", [
    (co(q("g"), q("t"), 0, 1, ',"generation":3'), CO_OK),
    (co(q("g"), q("t"), 0, 2, ',"generation":3'), CO_OK),
    (cos(q("g"), [e(q("t"), 1, 5)], ',"generation":3'), COS_OK),
    (fos_req(q("g")), fos(ent('"t"', 0, 2), ent('"t"', 1, 5))),
])

case("api-fencing-higher-raises", [
    (co(q("g"), q("t"), 0, 1, ',"generation":3'), CO_OK),
    (co(q("g"), q("t"), 0, 2, ',"generation":5'), CO_OK),
    (co(q("g"), q("t"), 0, 3, ',"generation":4'), fenced(4, 5)),
    (cos(q("g"), [e(q("t"), 0, 4)], ',"generation":6'), COS_OK),
    (cos(q("g"), [e(q("t"), 0, 5)], ',"generation":5'), fenced(5, 6)),
    (co(q("g"), q("t"), 0, 6, ',"generation":2147483647'), CO_OK),
    (co(q("g"), q("t"), 0, 7, ',"generation":2147483646'), fenced(2147483646, 2147483647)),
    (fo_req(q("g"), q("t"), 0), fo(6)),
])

case("api-fencing-no-generation-not-fenced", [
    (co(q("g"), q("t"), 0, 1, ',"generation":5'), CO_OK),
    (co(q("g"), q("t"), 0, 2), CO_OK),
    (cos(q("g"), [e(q("t"), 0, 3)]), COS_OK),
    (co(q("g"), q("t"), 0, 4, ',"generation":4'), fenced(4, 5)),
    (co(q("g"), q("t"), 0, 5, ',"generation":5'), CO_OK),
    (fo_req(q("g"), q("t"), 0), fo(5)),
])

case("api-fencing-empty-offsets-raises-generation", [
    (cos(q("g"), [], ',"generation":7'), COS_OK),
    (co(q("g"), q("t"), 0, 1, ',"generation":6'), fenced(6, 7)),
    (co(q("g"), q("t"), 0, 2, ',"generation":7'), CO_OK),
    (fo_req(q("g"), q("t"), 0), fo(2)),
])

case("api-fencing-per-group", [
    (co(q("a"), q("t"), 0, 1, ',"generation":9'), CO_OK),
    (co(q("b"), q("t"), 0, 2, ',"generation":1'), CO_OK),
    (co(q("b"), q("t"), 0, 3, ',"generation":0'), fenced(0, 1)),
    (co(q("a"), q("t"), 0, 4, ',"generation":1'), fenced(1, 9)),
    (fos_req(q("a")), fos(ent('"t"', 0, 1))),
    (fos_req(q("b")), fos(ent('"t"', 0, 2))),
])

# Only delete_group forgets the generation; removing every offset does not.
case("api-fencing-survives-delete-offsets", [
    (co(q("g"), q("t"), 0, 1, ',"generation":5'), CO_OK),
    (do_req(q("g"), q("t")), dl(1)),
    (lg_req(), lg()),
    (co(q("g"), q("t"), 0, 2, ',"generation":4'), fenced(4, 5)),
    (fo_req(q("g"), q("t"), 0), fo(0)),
])

# A malformed message is refused as malformed (12) before fencing is looked at.
case("api-fencing-validation-first", [
    (co(q("g"), q("t"), 0, 1, ',"generation":5'), CO_OK),
    (co(q("g"), q("t"), 0, 2, ',"metadata":7,"generation":4'), bad("metadata", META)),
    (cos(q("g"), [e(q("t"), -1, 1)], ',"generation":4'), bad("offsets[0].partition", PART)),
    (co(q("g"), q("t"), 0, 3, ',"generation":"4"'), bad("generation", GEN)),
    (fo_req(q("g"), q("t"), 0), fo(1)),
])

# ============================== validation ==============================

case("api-validation-metadata", [
    (co(q("g"), q("t"), 0, 1, ',"metadata":5'), bad("metadata", META)),
    (co(q("g"), q("t"), 0, 1, ',"metadata":true'), bad("metadata", META)),
    (co(q("g"), q("t"), 0, 1, ',"metadata":{"a":1}'), bad("metadata", META)),
    (co(q("g"), q("t"), 0, 1, ',"metadata":["x"]'), bad("metadata", META)),
    (co(q("g"), q("t"), 0, -1, ',"metadata":5'), bad("offset", OFF)),        # offset before metadata
    (co(q("g"), q("t"), 0, 1, ',"metadata":5,"generation":-1'), bad("metadata", META)),  # metadata before generation
    (co(q("g"), q("t"), 0, 1, ',"generation":-1,"metadata":5'), bad("metadata", META)),  # whatever the field order
    (cos(q("g"), [e(q("t"), 0, 1, ',"metadata":5')]), bad("offsets[0].metadata", META)),
    (cos(q("g"), [e(q("t"), 0, 1), e(q("t"), 1, 1), e(q("t"), 2, 1), e(q("t"), 3, 1, ',"metadata":false')]),
     bad("offsets[3].metadata", META)),
    (fos_req(q("g")), fos()),
])

case("api-validation-generation", [
    (co(q("g"), q("t"), 0, 1, ',"generation":-1'), bad("generation", GEN)),
    (co(q("g"), q("t"), 0, 1, ',"generation":2147483648'), bad("generation", GEN)),
    (co(q("g"), q("t"), 0, 1, ',"generation":99999999999999999999'), bad("generation", GEN)),
    (co(q("g"), q("t"), 0, 1, ',"generation":1.5'), bad("generation", GEN)),
    (co(q("g"), q("t"), 0, 1, ',"generation":"3"'), bad("generation", GEN)),
    (co(q("g"), q("t"), 0, 1, ',"generation":true'), bad("generation", GEN)),
    (co(q("g"), q("t"), 0, 1, ',"generation":[1]'), bad("generation", GEN)),
    (cos(q("g"), [], ',"generation":-1'), bad("generation", GEN)),
    (raw("commit_offsets", '"group":"g","generation":2147483648'), bad("generation", GEN)),  # generation before offsets
    (raw("commit_offsets", '"generation":-1,"offsets":[]'), missing("group")),             # group before generation
    (cos(q("g"), [e('""', 0, 1)], ',"generation":"x"'), bad("generation", GEN)),
    (fos_req(q("g")), fos()),
    (co(q("g"), q("t"), 0, 1, ',"generation":0'), CO_OK),
    (co(q("g"), q("t"), 0, 2, ',"generation":2147483647'), CO_OK),
    (fo_req(q("g"), q("t"), 0), fo(2)),
])

case("api-validation-commit-offsets", [
    (raw("commit_offsets", '"group":"g"'), missing("offsets")),
    (raw("commit_offsets", '"group":"g","offsets":null'), bad("offsets", ARRAY)),
    (raw("commit_offsets", '"group":"g","offsets":{"topic":"t","partition":0,"offset":1}'), bad("offsets", ARRAY)),
    (raw("commit_offsets", '"group":"g","offsets":"x"'), bad("offsets", ARRAY)),
    (cos(q("g"), ["1"]), bad("offsets[0]", OBJECT)),
    (cos(q("g"), ["null"]), bad("offsets[0]", OBJECT)),
    (cos(q("g"), ["[]"]), bad("offsets[0]", OBJECT)),
    (cos(q("g"), [e(q("t"), 0, 1), e(q("t"), 1, 1), '"t"']), bad("offsets[2]", OBJECT)),
    (cos(q("g"), ['{"partition":0,"offset":1}']), missing("offsets[0].topic")),
    (cos(q("g"), ['{"topic":"t","offset":1}']), missing("offsets[0].partition")),
    (cos(q("g"), ['{"topic":"t","partition":0}']), missing("offsets[0].offset")),
    (cos(q("g"), ['{"topic":"","partition":-1,"offset":-1}']), bad("offsets[0].topic", NONEMPTY)),
    (cos(q("g"), ['{"topic":5,"partition":0,"offset":1}']), bad("offsets[0].topic", NONEMPTY)),
    (cos(q("g"), ['{"topic":"t","partition":"0","offset":-1}']), bad("offsets[0].partition", PART)),
    (cos(q("g"), ['{"topic":"t","partition":1.5,"offset":1}']), bad("offsets[0].partition", PART)),
    (cos(q("g"), [e(q("t"), 0, 9223372036854775808)]), bad("offsets[0].offset", OFF)),
    (cos(q("g"), [e(q("t"), 0, -1, ',"metadata":5')]), bad("offsets[0].offset", OFF)),
    (cos(q("g"), [e(q("t"), 0, 1, ',"metadata":1'), '{"topic":7}']), bad("offsets[0].metadata", META)),
    (cos(q("g"), [e(q("t"), 0, 1), e(q("t"), 2147483648, 1), '{"topic":""}']), bad("offsets[1].partition", PART)),
    (raw("commit_offsets", '"group":"","offsets":5'), bad("group", NONEMPTY)),
    (raw("commit_offsets", '"offsets":[]'), missing("group")),
    (raw("commit_offsets", '"group":7,"offsets":[]'), bad("group", NONEMPTY)),
    (fos_req(q("g")), fos()),
])

case("api-validation-fetch-offsets", [
    (raw("fetch_offsets", '"topics":["t"]'), missing("group")),
    (fos_req('""'), bad("group", NONEMPTY)),
    (fos_req("5"), bad("group", NONEMPTY)),
    (fos_req("null"), bad("group", NONEMPTY)),
    (fos_req(q("g"), ',"topics":"t"'), bad("topics", ARRAY)),
    (fos_req(q("g"), ',"topics":{"t":1}'), bad("topics", ARRAY)),
    (fos_req(q("g"), ',"topics":5'), bad("topics", ARRAY)),
    (fos_req(q("g"), ',"topics":["a",""]'), bad("topics[1]", NONEMPTY)),
    (fos_req(q("g"), ',"topics":[1]'), bad("topics[0]", NONEMPTY)),
    (fos_req(q("g"), ',"topics":[null]'), bad("topics[0]", NONEMPTY)),
    (fos_req(q("g"), ',"topics":["a","b",["c"]]'), bad("topics[2]", NONEMPTY)),
    (fos_req('""', ',"topics":5'), bad("group", NONEMPTY)),
])

case("api-validation-delete-offsets", [
    (co(q("g"), q("t"), 0, 1), CO_OK),
    (raw("delete_offsets", '"topic":"t"'), missing("group")),
    (do_req('""', q("t")), bad("group", NONEMPTY)),
    (raw("delete_offsets", '"group":"g"'), missing("topic")),
    (do_req(q("g"), '""'), bad("topic", NONEMPTY)),
    (do_req(q("g"), "5"), bad("topic", NONEMPTY)),
    (do_req(q("g"), q("t"), ',"partitions":"0"'), bad("partitions", ARRAY)),
    (do_req(q("g"), q("t"), ',"partitions":0'), bad("partitions", ARRAY)),
    (do_req(q("g"), q("t"), ',"partitions":[-1]'), bad("partitions[0]", PART)),
    (do_req(q("g"), q("t"), ',"partitions":[0,2147483648]'), bad("partitions[1]", PART)),
    (do_req(q("g"), q("t"), ',"partitions":[0,1.5]'), bad("partitions[1]", PART)),
    (do_req(q("g"), q("t"), ',"partitions":[0,"1"]'), bad("partitions[1]", PART)),
    (do_req(q("g"), q("t"), ',"partitions":[0,null]'), bad("partitions[1]", PART)),
    (do_req('""', '""', ',"partitions":5'), bad("group", NONEMPTY)),
    (do_req(q("g"), '""', ',"partitions":5'), bad("topic", NONEMPTY)),
    (fos_req(q("g")), fos(ent('"t"', 0, 1))),  # none of the refused requests removed t/0
])

case("api-validation-delete-group", [
    (co(q("g"), q("t"), 0, 1), CO_OK),
    (raw("delete_group", ""), missing("group")),
    (dg_req('""'), bad("group", NONEMPTY)),
    (dg_req("null"), bad("group", NONEMPTY)),
    (dg_req('["g"]'), bad("group", NONEMPTY)),
    (lg_req(), lg('"g"')),
])

case("api-unknown-fields-ignored", [
    (cos(q("g"), [e(q("t"), 0, 1, ',"extra":1,"group":"other","generation":3')], ',"note":"x","topics":["zz"]'), COS_OK),
    (fos_req(q("g"), ',"partition":5,"offsets":7'), fos(ent('"t"', 0, 1))),
    (lg_req(',"group":"zzz","groups":[1]'), lg('"g"')),
    (do_req(q("g"), q("t"), ',"extra":true,"partition":9'), dl(1)),
    (co(q("g"), q("t"), 0, 2), CO_OK),
    (co(q("g"), q("t"), 1, 3, ',"generation":0'), CO_OK),  # the entry's "generation":3 was ignored
    (dg_req(q("g"), ',"topic":"t","partitions":[9]'), dg(2)),
    (lg_req(), lg()),
])

# Every new request type is refused before init, as the old ones are.
NOT_INIT = err(11, "node not initialized: send init first")
case("api-request-before-init", [
    (cos(q("g"), [e(q("t"), 0, 1)]), NOT_INIT),
    (fos_req(q("g")), NOT_INIT),
    (lg_req(), NOT_INIT),
    (do_req(q("g"), q("t")), NOT_INIT),
    (dg_req(q("g")), NOT_INIT),
    ("INIT",),
    (lg_req(), lg()),
    (fos_req(q("g")), fos()),
], init=False)


if __name__ == "__main__":
    import json
    import sys

    for name, (steps, init) in CASES.items():
        write(name, steps, init)
    # Self-check of the builder: every line must be valid JSON.
    for name in CASES:
        for ext in (".in", ".out"):
            with open(name + ext, encoding="utf-8") as f:
                for i, line in enumerate(f, 1):
                    try:
                        json.loads(line)
                    except ValueError as ex:
                        sys.exit(f"{name}{ext}:{i}: {ex}")
    print(f"wrote {len(CASES)} cases")
