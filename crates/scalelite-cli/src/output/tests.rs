use super::*;

#[test]
fn blank_border_table_matches_the_originals_layout() {
    // The column widths of the original's documented example: STATE is 8 wide (`cordoned`), so `STATE` is centred
    // with 2 spaces on the left and 1 on the right.
    let headers = ["HOSTNAME", "STATE", "STATUS", "MEETINGS", "LOAD", "TAG"];
    let rows = vec![
        vec![
            Cell::left("bbb1.example.com"),
            Cell::left("enabled"),
            Cell::left("online"),
            Cell::left("12"),
            Cell::right("25.0"),
            Cell::left(""),
        ],
        vec![
            Cell::left("bbb2.example.com"),
            Cell::left("cordoned"),
            Cell::left("offline"),
            Cell::left("0"),
            Cell::left(""),
            Cell::left("gpu"),
        ],
    ];
    let table = render_table(&headers, &rows);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "     HOSTNAME        STATE    STATUS  MEETINGS  LOAD  TAG "
    );
    assert_eq!(
        lines[1],
        " bbb1.example.com  enabled   online   12        25.0      "
    );
    assert_eq!(
        lines[2],
        " bbb2.example.com  cordoned  offline  0               gpu "
    );
    assert_eq!(lines.len(), 3);
    // Every line has the same width.
    assert!(
        lines
            .iter()
            .all(|l| l.chars().count() == lines[0].chars().count())
    );
}

#[test]
fn an_empty_table_is_its_header() {
    assert_eq!(render_table(&["A", "LONGER"], &[]), " A  LONGER ");
}

#[test]
fn width_counts_characters_not_bytes() {
    let table = render_table(&["H"], &[vec![Cell::left("ü✓")]]);
    assert_eq!(table, "  H \n ü✓ ");
}
