"""The in-memory consumer-offsets node a learner writes first.

The benchmark runs it as the Python baseline: json.loads per line, a dict
keyed by (group, topic, partition), one flushed print per reply. Nothing is
written to disk. Dict insertion order plus json.dumps' default separators give
exactly the reply format offsets-node uses.
"""

import json
import sys


def main():
    node_id = None
    next_id = 0
    offsets = {}
    for line in sys.stdin:
        msg = json.loads(line)
        body = msg["body"]
        kind = body["type"]
        if kind == "init":
            node_id = body["node_id"]
            reply = {"type": "init_ok", "in_reply_to": body["msg_id"]}
        elif kind == "commit_offset":
            offsets[(body["group"], body["topic"], body["partition"])] = body["offset"]
            reply = {"type": "commit_offset_ok", "in_reply_to": body["msg_id"]}
        elif kind == "fetch_offset":
            key = (body["group"], body["topic"], body["partition"])
            reply = {"type": "fetch_offset_ok", "in_reply_to": body["msg_id"],
                     "offset": offsets.get(key, 0)}
        else:
            print("learner: unknown message type %r" % kind, file=sys.stderr)
            continue
        reply["msg_id"] = next_id
        next_id += 1
        print(json.dumps({"src": node_id, "dest": msg["src"], "body": reply}), flush=True)


if __name__ == "__main__":
    main()
