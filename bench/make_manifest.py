#!/usr/bin/env python3
"""Write a legal manifest with JOBS jobs x SCHEDULES schedules to stdout (the maximum is 256 x 64)."""
import json
import sys

jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 256
schedules = int(sys.argv[2]) if len(sys.argv) > 2 else 64
app = sys.argv[3] if len(sys.argv) > 3 else "bench-app"

def schedule(j, s):
    # 64 distinct, valid five-field expressions per job, mixing forms.
    forms = [
        lambda: f"{s % 60} {j % 24} * * *",
        lambda: f"*/{(s % 30) + 1} {j % 24} * * 1-5",
        lambda: f"{s % 60} {(j + s) % 24} 1,15 * *",
        lambda: f"{s % 60} {j % 24} * jan-jun mon,wed,fri",
    ]
    return forms[(s // 60) % len(forms)]() if s >= 60 else f"{s} {j % 24} * * *"

doc = {
    "version": 1,
    "app": app,
    "jobs": [
        {
            "name": f"job-{j:03d}",
            "schedules": [schedule(j, s) for s in range(schedules)],
            "request": {
                "method": "POST",
                "url": f"https://{app}.example.com/cron/job-{j:03d}",
                "headers": {"Accept": "application/json", "X-Tenant": "primary"},
                "body": "{\"run\":true}",
            },
            "policy": {"concurrency": "Forbid", "timeout_seconds": 30,
                       "retries": {"max_attempts": 3, "min_seconds": 1, "max_seconds": 20}},
            "auth": {"secret_refs": ["env:BENCH_SECRET"]},
        }
        for j in range(jobs)
    ],
}
json.dump(doc, sys.stdout, indent=1)
