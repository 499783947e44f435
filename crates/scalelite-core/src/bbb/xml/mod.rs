//! BBB API XML, with no I/O: a small DOM, a hardened parser, a writer, every response shape Scalelite emits, and
//! typed views of what BBB servers answer.
//!
//! - [`Element`] / [`Node`]: the DOM. [`parse`] turns bytes into the root element (bounded depth, clear errors,
//!   never panics); [`write()`] turns an element into a UTF-8 document with an XML declaration.
//! - Response builders ([`failed`], [`index`], [`meetings`], [`no_meetings`], [`not_running`], [`published`],
//!   [`updated`], [`deleted`], [`recordings`], [`no_recordings`]) give exactly the element order of the original
//!   (`docs/compatibility.md#api-responses`).
//! - [`BbbResponse::parse`] classifies a BBB server's answer (`docs/compatibility.md#api-outbound-requests`);
//!   [`BbbResponse::parse_pruned`] does the same but builds only the elements a reader needs ([`for_summaries`],
//!   [`for_version`]);
//!   [`meeting_summaries`], [`running`], [`bbb_version`] and [`meeting_elements`] read the parts the poller and the API
//!   need.
//!
//! Invariant: all XML Scalelite sends is produced here.

mod bbb_response;
mod dom;
mod parse;
mod recordings;
mod response;
mod write;

#[cfg(test)]
mod tests;

pub use bbb_response::{
    BbbResponse, BbbResponseError, MeetingSummary, bbb_version, for_summaries, for_version,
    meeting_elements, meeting_summaries, running,
};
pub use dom::{Element, Node, is_valid_name};
pub use parse::{MAX_DEPTH, XmlError, parse, parse_pruned};
pub use recordings::{NO_RECORDINGS_MESSAGE, RecordingsXmlOptions, no_recordings, recordings};
pub use response::{
    NO_MEETINGS_MESSAGE, deleted, failed, index, meetings, no_meetings, not_running, published,
    updated,
};
pub use write::{write, write_fragment};
