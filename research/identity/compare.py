"""Compare two JSON outputs of outputs.py / gallery.py key by key; extra arguments: keys that differ on purpose."""
import json
import sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
skip = set(sys.argv[3:])
diff = [k for k in a if k not in skip and a[k] != b.get(k)]
print(f"{len(a)} keys, {len(diff)} differ" + (f" (excluded on purpose: {sorted(skip)})" if skip else ""))
for k in diff[:10]:
    print(" ", k, str(a[k])[:120], "->", str(b.get(k))[:120])
