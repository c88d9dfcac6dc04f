"""The bulk delete client: one batch, one request, one classified outcome."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from ..models import Outcome
from .answers import classify
from .connection import ApiConnection

DELETE_PATH: Final = "/v1/files/batch/deleteByFileIds"


class DeleteClient(ApiConnection):
    """Sends batches to ImageKit's bulk delete endpoint (arguments: ``ApiConnection``).

    ImageKit's bulk delete "deletes multiple files and all their file versions permanently":
    a fileId stands for the file with every version. Deleting does not purge the CDN (see
    ``bulkdel.purge.cache``).
    """

    __slots__ = ()

    @property
    def _url(self) -> str:
        return self.base_url + DELETE_PATH

    async def delete_batch(self, file_ids: Sequence[str]) -> Outcome:
        """Send one delete request for ``file_ids`` and classify the answer. Never raises
        for network or HTTP trouble; cancellation propagates."""
        payload = json.dumps({"fileIds": list(file_ids)}, separators=(",", ":"))
        answer = await self.exchange(
            "POST", self._url, data=payload, content_type="application/json"
        )
        if isinstance(answer, Outcome):
            return answer
        return classify(*answer, file_ids)


#: the name ``DeleteClient`` had before it said which endpoint it serves; kept for callers
ImageKitClient = DeleteClient
