"""Sums up a schemathesis run from its NDJSON report (scripts/fuzz): how many requests it sent,
the status codes they got, and which checks ran. Prints the request count last, alone."""

import collections
import json
import pathlib
import sys

report = pathlib.Path(sys.argv[1])
requests = 0
statuses = collections.Counter()
checks = set()
for path in report.glob("*.ndjson"):
    for line in path.open():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder", {})
        for interaction in recorder.get("interactions", {}).values():
            requests += 1
            response = interaction.get("response") or {}
            statuses[response.get("status_code", "no answer")] += 1
        for results in recorder.get("checks", {}).values():
            checks.update(result["name"] for result in results)
print("status codes: " + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items(), key=str)), file=sys.stderr)
print("checks run: " + ", ".join(sorted(checks)), file=sys.stderr)
print(requests)
