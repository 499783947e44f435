#!/bin/bash
# Send every recording this BigBlueButton server has published to Scalelite, e.g. after adding the server to a
# Scalelite pool, or after an outage of the spool. Run as root on the BigBlueButton server:
#
#   sudo ./scalelite_batch_import.sh
#
# For each recording with a marker in /var/bigbluebutton/recording/status/published/ (<record id>-<format>.done,
# <record id>-sender.done) it runs the post-publish hook once, as the bigbluebutton user with the scalelite-spool
# group, exactly as BigBlueButton would after publishing. Recordings already imported are imported again, which is
# harmless (the importer replaces the earlier copy).
set -euo pipefail

STATUS_DIR=${STATUS_DIR:-/var/bigbluebutton/recording/status/published}
HOOK=${HOOK:-/usr/local/bigbluebutton/core/scripts/post_publish/scalelite_post_publish.rb}
RUN_AS_USER=${RUN_AS_USER:-bigbluebutton}
RUN_AS_GROUP=${RUN_AS_GROUP:-scalelite-spool}

if ! sudo -n -u "$RUN_AS_USER" -g "$RUN_AS_GROUP" true; then
  echo "error: cannot run commands as $RUN_AS_USER:$RUN_AS_GROUP with sudo (run this script as root;" \
    "is $RUN_AS_USER in the $RUN_AS_GROUP group?)" >&2
  exit 1
fi
if [[ ! -x "$HOOK" ]]; then
  echo "error: $HOOK is missing or not executable" >&2
  exit 1
fi

shopt -s nullglob
sent=0
failed=0
declare -A seen=()
for marker in "$STATUS_DIR"/*.done; do
  name=$(basename "$marker" .done)
  # <record id>-<format or "sender">: the record id is everything before the last dash.
  record_id=${name%-*}
  if [[ -z "$record_id" || "$record_id" == "$name" || -n "${seen[$record_id]:-}" ]]; then
    continue
  fi
  seen[$record_id]=1
  echo "Sending recording $record_id"
  if sudo -n -u "$RUN_AS_USER" -g "$RUN_AS_GROUP" "$HOOK" -m "$record_id"; then
    sent=$((sent + 1))
  else
    echo "warning: sending recording $record_id failed" >&2
    failed=$((failed + 1))
  fi
done
echo "Sent $sent recording(s), $failed failed"
[[ $failed -eq 0 ]]
