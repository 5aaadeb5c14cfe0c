"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by scripts/schemathesis.sh).

tus PATCH bodies are application/offset+octet-stream: plain bytes, which
schemathesis only knows how to send under application/octet-stream.
"""

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
