"""Without a provider and without the application importing opentelemetry, a run imports
nothing of opentelemetry or prometheus_client (both are installed in the test environment)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import KEY

SCRIPT = f"""
import asyncio, json, sys
import bulkdel
from bulkdel.testing import FakeImageKit

async def main():
    async with FakeImageKit({KEY!r}) as server:
        report = await bulkdel.delete_files(
            [f"{{i:024x}}" for i in range(500)], private_key={KEY!r}, base_url=server.url
        )
    return report.counts.deleted

deleted = asyncio.run(main())
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("opentelemetry", "prometheus_client"))
print(json.dumps({{"deleted": deleted, "loaded": loaded}}))
"""


def test_a_run_imports_no_telemetry_library() -> None:
    """sys.modules holds no opentelemetry and no prometheus_client after a whole run."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(done.stdout)
    assert result == {"deleted": 500, "loaded": []}


def test_an_application_that_imported_opentelemetry_gets_its_global_providers() -> None:
    """Once the application has imported opentelemetry, a run reports to its global
    providers without being given them."""
    script = (
        SCRIPT.replace(
            "import bulkdel\n",
            "import bulkdel\n"
            "from opentelemetry import metrics\n"
            "from opentelemetry.sdk.metrics import MeterProvider\n"
            "from opentelemetry.sdk.metrics.export import InMemoryMetricReader\n"
            "reader = InMemoryMetricReader()\n"
            "metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))\n",
        )
        .replace(
            "print(json.dumps(",
            "data = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics\n"
            "ids = [m for m in data if m.name == 'bulkdel.ids'][0].data.data_points[0].value\n"
            "print(json.dumps(",
        )
        .replace('"loaded": loaded', '"ids": ids')
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == {"deleted": 500, "ids": 500}
