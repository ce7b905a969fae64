"""On-call alerts: delivery to a log, a webhook, Slack or PagerDuty, alert state per tenant and check,
and the runbook links each alert carries."""
