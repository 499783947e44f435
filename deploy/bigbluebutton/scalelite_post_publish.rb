#!/usr/bin/ruby
# frozen_string_literal: true

# Scalelite post-publish hook for a BigBlueButton server.
#
# Install as /usr/local/bigbluebutton/core/scripts/post_publish/scalelite_post_publish.rb (mode 0755), with
# scalelite.yml next to bigbluebutton.yml in /usr/local/bigbluebutton/core/scripts/. BigBlueButton runs every
# post_publish script after it has published a recording format, as `<script> -m <record id>` (it may add
# `-f <format>`, which is ignored: every format published so far is sent).
#
# What it does:
#   1. tar (uncompressed) every published format of the recording, relative to published_dir, so that the
#      archive's top level is the format directories: presentation/<record id>/metadata.xml, video/<record id>/...
#      Symbolic and hard links are archived as the files they point to (the importer refuses links).
#   2. rsync the archive into the Scalelite spool (a local or NFS path, host:/path over ssh, or rsync://), removing
#      the local copy. rsync writes into a hidden temporary name and renames at the end, so the importer never
#      sees a partial archive.
#   3. Optionally delete the recording from this server (delete_recording: true).
#   4. Write <recording_dir>/status/published/<record id>-sender.done.
#
# The same recording may be sent several times (once per format as each is published, and again by
# scalelite_batch_import.sh); the importer replaces the earlier copy.

require 'fileutils'
require 'logger'
require 'open3'
require 'optparse'
require 'yaml'

SCRIPTS_DIR = File.expand_path('..', __dir__)
BBB_CONFIG = File.join(SCRIPTS_DIR, 'bigbluebutton.yml')
# BigBlueButton 2.3+ reads local overrides of bigbluebutton.yml from here.
BBB_OVERRIDES = '/etc/bigbluebutton/recording/recording.yml'
SCALELITE_CONFIG = File.join(SCRIPTS_DIR, 'scalelite.yml')
LOG_FILE = '/var/log/bigbluebutton/post_publish.log'

def logger
  @logger ||= begin
    Logger.new(LOG_FILE, 'weekly')
  rescue StandardError
    Logger.new($stderr)
  end
end

def load_yaml(path)
  YAML.safe_load(File.read(path)) || {}
end

# A value the configuration must have: a missing key stops the script with a message naming it.
def required(config, key, file)
  value = config[key]
  raise KeyError, "#{file} has no #{key}" if value.nil? || value.to_s.empty?

  value.to_s
end

def run(*command)
  logger.info("Running: #{command.join(' ')}")
  output, status = Open3.capture2e(*command)
  output.each_line { |line| logger.info(line.chomp) }
  raise "#{command.first} failed (#{status})" unless status.success?
end

record_id = nil
OptionParser.new do |opts|
  opts.banner = "Usage: #{File.basename(__FILE__)} -m RECORD_ID"
  opts.on('-m', '--meeting-id RECORD_ID', 'The internal meeting id (the record id)') { |value| record_id = value }
  opts.on('-f', '--format FORMAT', 'Ignored: every published format is sent') { |_value| nil }
end.parse!

if record_id.nil? || record_id.empty?
  warn 'No meeting id given (-m RECORD_ID)'
  exit 1
end
# A record id is `<hex>-<digits>`; refuse anything that could be read as a path.
unless record_id.match?(/\A[0-9A-Za-z][0-9A-Za-z_.-]*\z/) && !record_id.include?('..')
  warn "Not a record id: #{record_id.inspect}"
  exit 1
end

begin
  bbb = load_yaml(BBB_CONFIG)
  bbb = bbb.merge(load_yaml(BBB_OVERRIDES)) if File.file?(BBB_OVERRIDES)
  published_dir = required(bbb, 'published_dir', BBB_CONFIG)
  recording_dir = required(bbb, 'recording_dir', BBB_CONFIG)

  scalelite = load_yaml(SCALELITE_CONFIG)
  work_dir = required(scalelite, 'work_dir', SCALELITE_CONFIG)
  spool_dir = required(scalelite, 'spool_dir', SCALELITE_CONFIG)
  extra_rsync_opts = Array(scalelite.fetch('extra_rsync_opts', [])).map(&:to_s)
  delete_recording = scalelite.fetch('delete_recording', false) == true

  logger.info("Transferring recording #{record_id} to Scalelite")
  formats = Dir.glob(File.join(published_dir, '*', record_id))
               .select { |dir| File.directory?(dir) }
               .map { |dir| File.basename(File.dirname(dir)) }
               .sort
  if formats.empty?
    logger.info('No published recording formats found')
    puts 'No published recording formats found'
    exit 0
  end
  logger.info("Formats: #{formats.join(', ')}")

  FileUtils.mkdir_p(work_dir)
  archive = File.join(work_dir, "#{record_id}.tar")
  FileUtils.rm_f(archive)
  run('tar', '--create', '--dereference', '--hard-dereference', '--file', archive, '--directory', published_dir,
      *formats.map { |format| File.join(format, record_id) })
  run('rsync', '--verbose', '--remove-source-files', '--protect-args', *extra_rsync_opts, archive, spool_dir)

  if delete_recording
    logger.info("Deleting recording #{record_id} from this server")
    run('bbb-record', '--delete', record_id)
  end

  done_dir = File.join(recording_dir, 'status', 'published')
  FileUtils.mkdir_p(done_dir)
  File.write(File.join(done_dir, "#{record_id}-sender.done"), "Published #{record_id}")
  logger.info("Recording #{record_id} sent to Scalelite")
rescue StandardError => e
  logger.error("Could not send recording #{record_id} to Scalelite: #{e.message}")
  warn "Could not send recording #{record_id} to Scalelite: #{e.message}"
  exit 1
end
