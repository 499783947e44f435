use crate::bbb::xml::{
    Element, deleted, failed, index, meetings, no_meetings, not_running, parse, published, updated,
    write,
};

const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

fn check(element: Element, expected_body: &str) {
    let xml = write(&element);
    assert_eq!(xml, format!("{DECL}{expected_body}"));
    assert_eq!(
        parse(xml.as_bytes()),
        Ok(element),
        "the snapshot parses back to the same tree"
    );
}

#[test]
fn failed_snapshot() {
    check(
        failed(
            "checksumError",
            "You did not pass the checksum security check",
        ),
        "<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey>\
         <message>You did not pass the checksum security check</message></response>",
    );
    check(
        failed(
            "internalError",
            "Couldn't find Meeting with id=a&b <x> and tenant_id=t",
        ),
        "<response><returncode>FAILED</returncode><messageKey>internalError</messageKey>\
         <message>Couldn&apos;t find Meeting with id=a&amp;b &lt;x&gt; and tenant_id=t</message></response>",
    );
    check(
        failed("", ""),
        "<response><returncode>FAILED</returncode><messageKey/><message/></response>",
    );
}

#[test]
fn index_snapshots() {
    check(
        index(None),
        "<response><returncode>SUCCESS</returncode><version>2.0</version></response>",
    );
    check(
        index(Some("")),
        "<response><returncode>SUCCESS</returncode><version>2.0</version></response>",
    );
    check(
        index(Some("alpha-1")),
        "<response><returncode>SUCCESS</returncode><version>2.0</version><build>alpha-1</build></response>",
    );
}

#[test]
fn no_meetings_snapshot() {
    check(
        no_meetings(),
        "<response><returncode>SUCCESS</returncode><messageKey>noMeetings</messageKey>\
         <message>no meetings were found on this server</message><meetings/></response>",
    );
    assert_eq!(meetings(Vec::new()), no_meetings());
}

#[test]
fn meetings_snapshot_keeps_meeting_elements_verbatim() {
    let one = parse(b"<meeting>\n<meetingID>test-meeting-1</meetingID>\n<metadata><a><![CDATA[]]></a></metadata></meeting>")
        .expect("parses");
    let two = Element::new("meeting").with_text("test-meeting-2");
    check(
        meetings(vec![one, two]),
        "<response><returncode>SUCCESS</returncode><meetings>\
         <meeting>\n<meetingID>test-meeting-1</meetingID>\n<metadata><a><![CDATA[]]></a></metadata></meeting>\
         <meeting>test-meeting-2</meeting></meetings></response>",
    );
}

#[test]
fn small_answers_snapshots() {
    check(
        not_running(),
        "<response><returncode>SUCCESS</returncode><running>false</running></response>",
    );
    check(
        published(true),
        "<response><returncode>SUCCESS</returncode><published>true</published></response>",
    );
    check(
        published(false),
        "<response><returncode>SUCCESS</returncode><published>false</published></response>",
    );
    check(
        updated(true),
        "<response><returncode>SUCCESS</returncode><updated>true</updated></response>",
    );
    check(
        updated(false),
        "<response><returncode>SUCCESS</returncode><updated>false</updated></response>",
    );
    check(
        deleted(),
        "<response><returncode>SUCCESS</returncode><deleted>true</deleted></response>",
    );
}
