//! Bodies of the monitoring routes.

use poem_openapi::Object;

use crate::WireTimestamp;

/// The package this server was built from.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Package")]
pub struct PackageBody {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
}

/// The git commit this server was built from.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Commit")]
pub struct CommitBody {
    /// Full commit hash.
    pub hash: String,
}

/// Who this server process is.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "System")]
pub struct SystemBody {
    /// A random id of this process, new at every start.
    pub uid: uuid::Uuid,
    /// The command line the process was started with.
    pub arguments: Vec<String>,
    /// The package this server was built from.
    pub package: PackageBody,
    /// The git commit, when the build knew it; `null` otherwise.
    pub commit: Option<CommitBody>,
    /// When this process started.
    pub created_at: WireTimestamp,
}

/// CPU time used by this process.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "CpuUsage")]
pub struct CpuBody {
    /// Microseconds spent in user mode.
    pub user: u64,
    /// Microseconds spent in the kernel.
    pub system: u64,
}

/// Memory held by this process.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "MemoryUsage")]
pub struct MemoryBody {
    /// Resident set size, bytes.
    pub rss: u64,
    /// Peak resident set size, bytes.
    pub rss_peak: u64,
    /// Virtual memory size, bytes.
    pub virtual_size: u64,
}

/// The queue of outgoing webhook deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "OutboxStats")]
pub struct OutboxBody {
    /// Deliveries never attempted yet.
    pub pending: u64,
    /// Deliveries attempted and scheduled again.
    pub retrying: u64,
    /// Deliveries done.
    pub delivered: u64,
    /// Deliveries given up on (until an operator redelivers them).
    pub failed: u64,
    /// Age in seconds of the oldest delivery not yet done or given up; `null` when none.
    pub oldest_pending_age_seconds: Option<u64>,
}

/// How this process is doing.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Performance")]
pub struct PerformanceBody {
    /// CPU time used; `null` where the platform does not tell.
    pub cpu: Option<CpuBody>,
    /// Memory held; `null` where the platform does not tell.
    pub memory: Option<MemoryBody>,
    /// Seconds since the process started.
    pub uptime_seconds: u64,
    /// The webhook delivery queue; `null` when this process does not deliver.
    pub outbox: Option<OutboxBody>,
    /// The last reconciliation this process ran; `null` before the first.
    pub reconciler: Option<ReconcilerBody>,
}

/// What the last reconciliation with the PGs found and did.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ReconcilerRun")]
pub struct ReconcilerBody {
    /// When it finished.
    pub finished_at: crate::WireTimestamp,
    /// Payments re-read at their PG.
    pub checked: u64,
    /// Payments whose PG state differed from ours.
    pub drifted: u64,
    /// Drifts recorded, each as one change with its webhook event.
    pub fixed: u64,
    /// Payments that could not be re-read or recorded (retried next run).
    pub failed: u64,
    /// Cancels whose PG answer was lost, settled by re-reading the PG.
    pub cancels_settled: u64,
    /// Saved-card charges whose answer was lost and whose caller never
    /// retried, found at the PG and recorded (each announced by a webhook).
    pub charges_recorded: u64,
}
