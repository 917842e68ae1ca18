"""Start-up of a service whose servers may still be starting (make run, compose, Kubernetes)."""

from tenacity import retry, stop_after_delay, wait_exponential

# Wait for the servers for a minute rather than crash-loop; then fail loudly.
until_servers_answer = retry(stop=stop_after_delay(60), wait=wait_exponential(max=3), reraise=True)
