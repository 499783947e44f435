//! Where the commands write, and the `status` table.

use std::fmt::Display;
use std::io::{self, Write};

/// Standard output and standard error of a command. The operator-facing text goes here, never to the log.
pub struct Out {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
}

impl Out {
    /// The process's standard output and standard error.
    pub fn stdio() -> Self {
        Self {
            out: Box::new(io::stdout()),
            err: Box::new(io::stderr()),
        }
    }

    /// Any two writers (tests).
    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Self {
        Self { out, err }
    }

    /// One line on standard output.
    pub fn line(&mut self, text: impl Display) -> io::Result<()> {
        writeln!(self.out, "{text}")
    }

    /// Text on standard output, as is.
    pub fn text(&mut self, text: impl Display) -> io::Result<()> {
        write!(self.out, "{text}")?;
        self.out.flush()
    }

    /// One line on standard error.
    /// Write to standard error without a newline (progress lines on a terminal).
    pub fn progress(&mut self, text: impl Display) -> io::Result<()> {
        write!(self.err, "{text}")?;
        self.err.flush()
    }

    pub fn warn(&mut self, text: impl Display) -> io::Result<()> {
        writeln!(self.err, "{text}")
    }

    /// Pretty JSON on standard output.
    pub fn json(&mut self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.line(text)?;
        Ok(())
    }

    /// Flush both.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.err.flush()
    }
}

/// How a body cell is aligned: the original's table library right-aligns numbers and left-aligns text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One body cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub align: Align,
}

impl Cell {
    pub fn left(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            align: Align::Left,
        }
    }

    pub fn right(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            align: Align::Right,
        }
    }
}

/// A table the way the original's `status` prints it (Tabulo with `border: :blank`, packed): no border characters,
/// each column as wide as its widest cell or header, every cell padded with one space on each side, headers
/// centred (an odd space goes to the left), body cells aligned per [`Align`]. One line per row, header first, no
/// trailing newline.
pub fn render_table(headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let width = |text: &str| text.chars().count();
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, header)| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| width(&cell.text))
                .chain([width(header)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut lines = Vec::with_capacity(rows.len() + 1);
    let mut line = String::new();
    for (header, w) in headers.iter().zip(&widths) {
        let padding = w - width(header);
        let right = padding / 2;
        let left = padding - right;
        line.push_str(&format!(
            " {}{header}{} ",
            " ".repeat(left),
            " ".repeat(right)
        ));
    }
    lines.push(line);
    for row in rows {
        let mut line = String::new();
        for (i, w) in widths.iter().enumerate() {
            let cell = row.get(i).cloned().unwrap_or_else(|| Cell::left(""));
            let padding = " ".repeat(w - width(&cell.text));
            match cell.align {
                Align::Left => line.push_str(&format!(" {}{padding} ", cell.text)),
                Align::Right => line.push_str(&format!(" {padding}{} ", cell.text)),
            }
        }
        lines.push(line);
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests;
