//! Polling, recording maintenance and the database tasks.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::bail;
use scalelite_core::shutdown::{self, Shutdown};
use scalelite_poller::Poller;
use scalelite_recording_importer::{ImportContext, ImportSettings, import_backlog};

use crate::cli::{Poll, TenantId};
use crate::commands::{Ctx, required};

impl Ctx {
    /// `poll:all` (also `poll:servers`, `poll:meetings`, `poll:versions`: one cycle does all three).
    pub(super) async fn poll_all(&mut self) -> anyhow::Result<()> {
        let report = self.poller.poll_once().await?;
        self.out.line(format!(
            "Polled {} servers: {} online, {} offline",
            report.servers_polled, report.servers_online, report.servers_offline
        ))?;
        for id in &report.servers_panicked {
            self.out.line(format!(
                "Server id={id} is unhealthy: set offline, its meetings forgotten"
            ))?;
        }
        for id in &report.meetings_removed {
            self.out.line(format!("Meeting id={id} has ended"))?;
        }
        Ok(())
    }

    /// `poll[INTERVAL]`: the poller loop until SIGINT/SIGTERM.
    pub(super) async fn poll(&mut self, a: Poll) -> anyhow::Result<()> {
        let mut settings = self.poll_settings.clone();
        if let Some(text) = a.interval.as_deref().filter(|t| !t.trim().is_empty()) {
            match text.trim().parse::<f64>() {
                Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
                    settings.interval = Duration::from_secs_f64(seconds);
                }
                _ => bail!("invalid interval '{text}': expected a number of seconds"),
            }
        }
        let poller = Poller::new(self.management.store().clone(), self.bbb.clone(), settings);
        let shutdown = Shutdown::new();
        shutdown::on_signal(shutdown.clone());
        poller
            .run(
                &scalelite_core::storage::lease_holder_id(),
                shutdown.token(),
            )
            .await;
        Ok(())
    }

    pub(super) async fn recordings_add_to_tenant(&mut self, a: TenantId) -> anyhow::Result<()> {
        let id = required(&a.id, "No tenant ID was provided")?;
        let count = self.management.add_recordings_to_tenant(id).await?;
        self.out.line(format!(
            "All existing recordings have been successfully linked to tenant {id} ({count} updated)"
        ))?;
        Ok(())
    }

    pub(super) async fn recordings_import(&mut self) -> anyhow::Result<()> {
        let mut settings = ImportSettings::from_config(&self.recordings);
        settings.s3 = scalelite_core::s3::S3Bucket::from_config(&self.recordings)?;
        let importer = ImportContext::new(self.store.clone(), settings);
        let terminal = std::io::stderr().is_terminal();
        let out = &mut self.out;
        let report = import_backlog(&importer, |done, total| {
            if terminal {
                let width = 30;
                let filled = (done * width)
                    .checked_div(total)
                    .unwrap_or(width)
                    .min(width);
                let bar = format!("{}{}", "#".repeat(filled), " ".repeat(width - filled));
                let _ = out.progress(format!("\r[{bar}] {done}/{total}"));
            }
        })
        .await?;
        if terminal {
            self.out.progress("\n")?;
        }
        self.out.line(format!(
            "Imported {} of {} archives ({} moved to failed, {} left in the spool)",
            report.imported, report.total, report.rejected, report.errors
        ))?;
        if report.errors > 0 {
            bail!(
                "{} archives could not be imported; they stay in the spool",
                report.errors
            );
        }
        Ok(())
    }

    pub(super) async fn recordings_update(&mut self) -> anyhow::Result<()> {
        let report = self
            .management
            .move_unpublished_recordings(
                &self.recordings.recording_publish_dir,
                &self.recordings.recording_unpublish_dir,
            )
            .await?;
        for (record_id, format) in &report.moved {
            self.out.line(format!(
                "Moved {format} of recording {record_id} to the unpublished directory"
            ))?;
        }
        for (record_id, format, why) in &report.failed {
            self.out.warn(format!(
                "Failed to move recording {record_id} ({format}): {why}"
            ))?;
        }
        if !report.failed.is_empty() {
            bail!(
                "{} recording formats could not be moved",
                report.failed.len()
            );
        }
        self.out.line("OK")?;
        Ok(())
    }

    /// The store was opened (and migrated) before this runs.
    pub(super) async fn db_migrate(&mut self) -> anyhow::Result<()> {
        self.out.line(format!(
            "Database ready: {}",
            self.management.store().kind()
        ))?;
        self.out.line("OK")?;
        Ok(())
    }
}
