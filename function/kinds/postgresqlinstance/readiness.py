"""When what a PostgreSQLInstance composes is ready, where its Ready condition does not say."""

from function.readiness import ANY_KIND, Readiness, exists

CNPG_GROUP = "postgresql.cnpg.io"
BARMAN_GROUP = "barmancloud.cnpg.io"
MONITORING_GROUP = "monitoring.coreos.com"

READINESS = Readiness.of(
    {
        # Neither has a Ready condition: a schedule and an object store definition.
        (CNPG_GROUP, "ScheduledBackup"): exists,
        (BARMAN_GROUP, ANY_KIND): exists,
        # A scrape configuration: no Ready condition.
        (MONITORING_GROUP, "PodMonitor"): exists,
    }
)
