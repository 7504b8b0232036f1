#!/usr/bin/env python3
"""Writes the golden cases for issue 10's framing and strict-JSON rules
(framing-nested-object-alone-on-a-line, framing-broken-message-with-a-nested-line,
framing-commit-offsets-elements-on-lines, framing-cut-short-then-pretty-printed,
framing-two-objects-on-one-line, strict-json-not-json,
request-before-init-any-type, msg-id-out-of-range, reply-dest-is-src-exactly).

Run from this directory:  python3 framing-cases.py

Every expected reply and stderr pattern below is typed by hand from the
rules in the README's Protocol section; the script exists because some
inputs hold raw bytes (a TAB, 0x01, 0xff, an encoded surrogate) that are
awkward to keep by hand. It never runs the node. The case of a message over
the 64 MiB limit is too big for a file: it is streamed by
cmd/offsets-node/framing_test.go.
"""
import os
D = os.path.dirname(os.path.abspath(__file__)) + '/'
INIT='{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}\n'
INIT_OK='{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}\n'
def w(name, inp, out, stderr=None):
    open(D+name+'.in','wb').write(inp if isinstance(inp,bytes) else inp.encode())
    open(D+name+'.out','w').write(out)
    if stderr: open(D+name+'.stderr','w').write(stderr)

w('framing-nested-object-alone-on-a-line', INIT +
'{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g","topic":"t","partition":0,"offset":4}}\n'
'{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":3,"group":"g","topic":"t","partition":0,"offset":5,"note":\n'
'{"src":"c1","dest":"n1","body":{"type":"delete_group","msg_id":6,"group":"g"}}\n'
'}}\n'
'{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":4,"group":"g","topic":"t","partition":0}}\n',
INIT_OK +
'{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 2, "msg_id": 1}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 3, "msg_id": 2}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 4, "offset": 5, "msg_id": 3}}\n')

w('framing-broken-message-with-a-nested-line', INIT +
'{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g","topic":"t","partition":0,"offset":4}}\n'
'{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":9,"group":"g","topic":"t","partition":0,"offset":5,"note":\n'
'{"src":"c1","dest":"n1","body":{"type":"delete_group","msg_id":6,"group":"g"}}\n'
',, and the rest is lost\n'
'}}\n'
'{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":3,"group":"g","topic":"t","partition":0}}\n',
INIT_OK +
'{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 2, "msg_id": 1}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 3, "offset": 4, "msg_id": 2}}\n',
'level=WARN.* line=3 .*reason="invalid JSON\n')

w('framing-commit-offsets-elements-on-lines', INIT +
'{"src": "c1", "dest": "n1", "body": {"type": "commit_offsets", "msg_id": 2, "group": "g",\n'
'"offsets": [\n'
'{"topic": "a", "partition": 0, "offset": 1},\n'
'{"topic": "a", "partition": 1, "offset": 2}\n'
']}}\n'
'{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":3,"group":"g"}}\n',
INIT_OK +
'{"src": "n1", "dest": "c1", "body": {"type": "commit_offsets_ok", "in_reply_to": 2, "msg_id": 1}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offsets_ok", "in_reply_to": 3, "offsets": [{"topic": "a", "partition": 0, "offset": 1, "metadata": ""}, {"topic": "a", "partition": 1, "offset": 2, "metadata": ""}], "msg_id": 2}}\n')

w('framing-cut-short-then-pretty-printed', INIT +
'{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":9,"group":"g","topic":"t","parti\n'
'{\n'
' "src": "c1", "dest": "n1",\n'
' "body": {"type": "commit_offset", "msg_id": 2, "group": "g", "topic": "t", "partition": 0, "offset": 7}\n'
'}\n'
'{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":10,"group":"g","topic":"t","partition":0\n'
'  {\n'
' "src": "c1", "dest": "n1",\n'
' "body": {"type": "fetch_offset", "msg_id": 3, "group": "g", "topic": "t", "partition": 0}\n'
'}\n'
'{\n'
' "src": "c1", "dest": "n1",\n'
' "body": {"type": "fetch_offset", "msg_id": 4, "group": "g", "topic": "t", "partition": 1}\n'
'}\n',
INIT_OK +
'{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 2, "msg_id": 1}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 3, "offset": 7, "msg_id": 2}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 4, "offset": 0, "msg_id": 3}}\n',
'level=WARN.* line=2 .*reason="invalid JSON\nlevel=WARN.* line=7 .*reason="invalid JSON\n')

w('framing-two-objects-on-one-line', INIT +
'{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g","topic":"t","partition":0,"offset":3}}{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":3,"group":"g","topic":"t","partition":0}} {"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":4,"group":"g","topic":"t","partition":1}}\n',
INIT_OK +
'{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 2, "msg_id": 1}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 3, "offset": 3, "msg_id": 2}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 4, "offset": 0, "msg_id": 3}}\n')

def co(mid, group, offset, extra=b''):
    return b'{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":' + str(mid).encode() + b',"group":' + group + b',"topic":"t","partition":0,"offset":' + offset + extra + b'}}\n'
bad = [
    co(3, b'"g\\x"', b'6'),            # invalid escape, today the same key as "g\\x"
    co(4, b'"g\\u00zz"', b'6'),
    co(5, b'"g\tx"', b'6'),              # raw TAB
    co(6, b'"g\x01"', b'6'),             # raw control character
    co(7, b'"g\xffx"', b'6'),            # not UTF-8
    co(8, b'"g\xed\xa0\x80"', b'6'),     # an encoded surrogate is not UTF-8
    co(9, b'"g"', b'NaN'),
    co(10, b'"g"', b'01'),
    co(11, b'"g"', b'+5'),
    co(12, b'"g"', b'1.'),
    co(13, b'"g"', b'.5'),
    co(14, b'"g"', b'6', b','),          # trailing comma in the body
    b'{"src":"c1","dest":"n1","body":{"type":"delete_offsets","msg_id":15,"group":"g\\\\x","topic":"t","partitions":[0,]}}\n',
]
inp = INIT.encode() + co(2, b'"g\\\\x"', b'5') + b''.join(bad) + \
    b'{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":16,"group":"g\\\\x","topic":"t","partition":0}}\n'
w('strict-json-not-json', inp,
INIT_OK +
'{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 2, "msg_id": 1}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 16, "offset": 5, "msg_id": 2}}\n',
''.join('level=WARN.* line=%d .*reason="invalid JSON\n' % (3 + i) for i in range(len(bad))))

w('request-before-init-any-type',
'{"src":"c1","dest":"n1","body":{"type":"bogus","msg_id":1}}\n'
'{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g"}}\n'
'{"src":"c1","dest":"n1","body":{"msg_id":3}}\n'
'{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":4,"group":"g\\ud800","topic":"t","partition":0}}\n'
'{"src":"c0","dest":"n1","body":{"type":"init","msg_id":5}}\n'
'{"src":"c0","dest":"n1","body":{"type":"init","msg_id":6,"node_id":"n1","node_ids":["n1"]}}\n'
'{"src":"c1","dest":"n1","body":{"type":"bogus","msg_id":7}}\n',
'{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 1, "code": 11, "text": "node not initialized: send init first", "msg_id": 0}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 2, "code": 11, "text": "node not initialized: send init first", "msg_id": 1}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 3, "code": 11, "text": "node not initialized: send init first", "msg_id": 2}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 4, "code": 11, "text": "node not initialized: send init first", "msg_id": 3}}\n'
'{"src": "n1", "dest": "c0", "body": {"type": "error", "in_reply_to": 5, "code": 12, "text": "missing required field \\"node_id\\"", "msg_id": 4}}\n'
'{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 6, "msg_id": 5}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 7, "code": 10, "text": "unknown message type \\"bogus\\"", "msg_id": 6}}\n')

fo = lambda mid: '{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":%s,"group":"g","topic":"t","partition":0}}\n' % mid
RANGE = 'field \\"msg_id\\" must be an integer in [-9223372036854775808, 9223372036854775807]'
w('msg-id-out-of-range', INIT + fo('9223372036854775808') + fo('-9223372036854775809') + fo('123456789012345678901234567890') + fo('9223372036854775807') + fo('-9223372036854775808'),
INIT_OK +
'{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 9223372036854775808, "code": 12, "text": "%s", "msg_id": 1}}\n' % RANGE +
'{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": -9223372036854775809, "code": 12, "text": "%s", "msg_id": 2}}\n' % RANGE +
'{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 123456789012345678901234567890, "code": 12, "text": "%s", "msg_id": 3}}\n' % RANGE +
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 9223372036854775807, "offset": 0, "msg_id": 4}}\n'
'{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": -9223372036854775808, "offset": 0, "msg_id": 5}}\n')

lg = lambda src, mid, dest=b'"n1"': b'{"src":' + src + b',"dest":' + dest + b',"body":{"type":"list_groups","msg_id":' + str(mid).encode() + b'}}\n'
ok = lambda dest, mid, k: '{"src": "n1", "dest": %s, "body": {"type": "list_groups_ok", "in_reply_to": %d, "groups": [], "msg_id": %d}}\n' % (dest, mid, k)
w('reply-dest-is-src-exactly', INIT.encode() +
  lg(b'"c\\"1"', 2) + lg(b'"c\\\\1"', 3) + lg(b'"c\\u00e9"', 4) + lg(b'"\\ud83d\\ude00"', 5) + lg(b'"c\\/1"', 6) +
  lg(b'"c\\u0000"', 7) + lg('"é😀"'.encode(), 8) + lg(b'"c\\t\\u007f"', 9) + lg(b'"c\\\\ud800"', 10) +
  lg(b'"c\\ud800"', 11) + lg(b'"c1"', 12, b'"n\\udc00"') + lg(b'"c1"', 13),
  INIT_OK + ok(r'"c\"1"', 2, 1) + ok(r'"c\\1"', 3, 2) + ok(r'"c\u00e9"', 4, 3) + ok(r'"\ud83d\ude00"', 5, 4) +
  ok('"c/1"', 6, 5) + ok(r'"c\u0000"', 7, 6) + ok(r'"\u00e9\ud83d\ude00"', 8, 7) + ok(r'"c\t\u007f"', 9, 8) +
  ok(r'"c\\ud800"', 10, 9) + ok('"c1"', 13, 10),
  'level=WARN.* line=11 .*lone UTF-16 surrogate\nlevel=WARN.* line=12 .*lone UTF-16 surrogate\n')
