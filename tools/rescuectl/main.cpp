// rescuectl: audit the journal (verify, timeline, export, replay) and print the checkpoint public
// key.
//
// Exit codes: 0 success; 1 the journal failed verification or a record is unreadable; 2 the
// journal or key could not be opened, or the command line is wrong.
#include <CLI/CLI.hpp>
#include <algorithm>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "record_format.hpp"
#include "replay.hpp"
#include "report.hpp"
#include "rescue/dispatcher/crew_token.hpp"
#include "rescue/dispatcher/server_config.hpp"
#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/open_storage.hpp"
#include "rescue/storage/signing.hpp"
#include "upload_export.hpp"

namespace {

using namespace rescue;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_unusable = 2;

// Audit tools never write: read-only, so running one against a live server's file is safe.
// The journal is a SQLite file or a Redis store ("redis://HOST:PORT/STORE").
std::unique_ptr<storage::journal> open_for_audit(const std::string& path) {
  std::error_code ec;
  auto j = storage::open_journal_for_audit(path, ec);
  if (!j) std::cerr << "rescuectl: cannot open journal " << path << ": " << ec.message() << "\n";
  return j;
}

bool read_text_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}

int run_verify(const std::string& journal_path, const std::string& public_key_path,
               const std::string& prefix = {}) {
  storage::verify_options options;
  if (!public_key_path.empty()) {
    if (!read_text_file(public_key_path, options.expected_public_key)) {
      std::cerr << "rescuectl: cannot read public key " << public_key_path << "\n";
      return exit_unusable;
    }
    if (storage::raw_public_key(options.expected_public_key).empty()) {
      std::cerr << "rescuectl: " << public_key_path << " is not an Ed25519 PEM key\n";
      return exit_unusable;
    }
  }
  auto j = open_for_audit(journal_path);
  if (!j) return exit_unusable;
  const auto result = storage::verify_journal(*j, options);
  if (result.failure == storage::verify_failure::read_error && result.first_bad_seq == 0) {
    std::cerr << "rescuectl: " << result.reason << "\n";
    return exit_unusable;
  }
  if (!result.ok()) {
    std::cout << prefix << "FAILED at seq " << result.first_bad_seq << ": "
              << to_string(result.failure) << ": " << result.reason << "\n";
    return exit_failed;
  }
  std::cout << prefix << "OK: " << result.records_checked << " records, last seq "
            << result.last_seq << ", " << result.checkpoints_checked
            << " signed checkpoints verified"
            << (public_key_path.empty() ? " (key not pinned: pass --public-key)" : "") << "\n";
  return exit_ok;
}

// A sharded city: every shard's journal ("<location>.<shard>"), each verified on its own (its
// own sequence, chain and checkpoints). The worst result is the exit code.
int run_verify_shards(const std::string& city_location, const std::string& public_key_path,
                      const std::vector<std::string>& shards) {
  int worst = exit_ok;
  for (const auto& shard : shards) {
    const int code =
        run_verify(city_location + "." + shard, public_key_path, "shard " + shard + ": ");
    worst = std::max(worst, code);
  }
  return worst;
}

int run_timeline(std::uint64_t incident, const std::string& journal_path, bool json) {
  auto j = open_for_audit(journal_path);
  if (!j) return exit_unusable;
  std::vector<storage::journal_record> records;
  if (auto ec = j->read_incident(incident, records)) {
    std::cerr << "rescuectl: read failed: " << ec.message() << "\n";
    return exit_unusable;
  }
  if (records.empty()) {
    std::cerr << "rescuectl: no events for incident " << incident << "\n";
    return exit_failed;
  }
  if (!json) std::cout << "incident " << incident << ": " << records.size() << " events\n";
  rescue::v1::Event event;
  for (const auto& r : records) {
    if (!r.parse(event)) {
      std::cerr << "rescuectl: seq " << r.seq << ": payload is not a valid Event\n";
      return exit_failed;
    }
    std::cout << (json ? rescuectl::json_line(r, event) : rescuectl::timeline_text(r, event))
              << "\n";
  }
  return exit_ok;
}

int run_export(const std::string& journal_path, std::uint64_t from, std::uint64_t to) {
  auto j = open_for_audit(journal_path);
  if (!j) return exit_unusable;
  rescue::v1::Event event;
  std::uint64_t bad_seq = 0;
  auto ec = j->scan(from, to, [&](const storage::journal_record& r) {
    if (!r.parse(event)) {
      bad_seq = r.seq;
      return false;
    }
    std::cout << rescuectl::json_line(r, event) << "\n";
    return true;
  });
  std::cout.flush();
  if (ec) {
    std::cerr << "rescuectl: read failed: " << ec.message() << "\n";
    return exit_unusable;
  }
  if (bad_seq != 0) {
    std::cerr << "rescuectl: seq " << bad_seq << ": payload is not a valid Event\n";
    return exit_failed;
  }
  return exit_ok;
}

int run_public_key(const std::string& key_path) {
  std::error_code ec;
  auto key = storage::signing_key::load(key_path, ec);
  if (!key) {
    std::cerr << "rescuectl: cannot load signing key " << key_path << ": " << ec.message() << "\n";
    return exit_unusable;
  }
  std::cout << key->public_pem();
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rescuectl: audit the 96333 dispatch journal"};
  app.require_subcommand(1);
  int code = exit_ok;

  std::string journal_path, public_key_path, key_path;
  bool json = false;
  std::uint64_t incident = 0, from = 1, to = UINT64_MAX;

  auto* verify = app.add_subcommand(
      "verify", "Check every record hash, the chain, the sequence and every checkpoint signature");
  verify
      ->add_option("--journal", journal_path,
                   "journal: a SQLite file, redis://HOST:PORT/STORE or redis-cluster://SEEDS/STORE")
      ->required();
  verify->add_option("--public-key", public_key_path,
                     "PEM public key the checkpoints must be signed with");
  std::vector<std::string> shards;
  verify
      ->add_option("--shards", shards,
                   "a sharded city: --journal names the city (redis://HOST:PORT/CITY), these "
                   "its shards, each verified as CITY.SHARD")
      ->delimiter(',');
  verify->callback([&] {
    code = shards.empty() ? run_verify(journal_path, public_key_path)
                          : run_verify_shards(journal_path, public_key_path, shards);
  });

  auto* timeline = app.add_subcommand("timeline", "Print every event of one incident");
  timeline->add_option("incident", incident, "incident id")->required();
  timeline
      ->add_option("--journal", journal_path,
                   "journal: a SQLite file, redis://HOST:PORT/STORE or redis-cluster://SEEDS/STORE")
      ->required();
  timeline->add_flag("--json", json, "JSON lines (protobuf JSON mapping)");
  timeline->callback([&] { code = run_timeline(incident, journal_path, json); });

  auto* exporter = app.add_subcommand("export", "Print records from..to as JSON lines");
  exporter
      ->add_option("--journal", journal_path,
                   "journal: a SQLite file, redis://HOST:PORT/STORE or redis-cluster://SEEDS/STORE")
      ->required();
  exporter->add_option("--from", from, "first seq (default 1)");
  exporter->add_option("--to", to, "last seq (default: the end)");
  exporter->callback([&] { code = run_export(journal_path, from, to); });

  auto* replay = app.add_subcommand(
      "replay", "Fold the whole journal as the server recovers and check the result");
  replay
      ->add_option("--journal", journal_path,
                   "journal: a SQLite file, redis://HOST:PORT/STORE or redis-cluster://SEEDS/STORE")
      ->required();
  replay->callback([&] { code = tools::run_replay(journal_path); });

  tools::report_request report_request;
  std::string report_journal, report_config;
  auto* reporter = app.add_subcommand(
      "report", "The KPI report of a period, from the journal and the registry only");
  reporter->add_option("--journal", report_journal,
                       "journal: a SQLite file, redis://HOST:PORT/STORE or "
                       "redis-cluster://SEEDS/STORE (default: the --config's SQLite journal)");
  reporter->add_option("--registry", report_request.registry_dir,
                       "the registry's CSV folder (default: the --config's [registry] dir)");
  reporter->add_option("--config", report_config,
                       "rescue-dispatchd TOML configuration: the journal and registry it names");
  std::vector<std::string> report_shards;
  reporter
      ->add_option("--shards", report_shards,
                   "a sharded city: --journal names the city, these its shards (CITY.SHARD), "
                   "all read into one report")
      ->delimiter(',');
  reporter->add_option("--period", report_request.period,
                       "a month (2026-11), a quarter (2026-Q4) or a year (2026), UTC+8");
  reporter->add_option("--from", report_request.from,
                       "first day (2026-11-03) or minute (2026-11-03T08:30), UTC+8");
  reporter->add_option("--to", report_request.to, "first day or minute after the period, UTC+8");
  reporter->add_option("--format", report_request.format, "md (default), csv, json or xlsx");
  reporter->add_option("--lang", report_request.lang, "headings: zh (default) or en");
  reporter->add_option("--out", report_request.out,
                       "write to this file (required for xlsx; default: standard output)");
  reporter->callback([&] {
    if (!report_config.empty()) {
      try {
        const auto config = dispatcher::load_server_config(report_config);
        if (report_journal.empty()) report_journal = config.journal_path.string();
        if (report_request.registry_dir.empty())
          report_request.registry_dir = config.registry_dir.string();
      } catch (const std::exception& e) {
        std::cerr << "rescuectl: " << e.what() << "\n";
        code = exit_unusable;
        return;
      }
    }
    if (report_journal.empty() || report_request.registry_dir.empty()) {
      std::cerr << "rescuectl: report needs --journal and --registry, or --config\n";
      code = exit_unusable;
      return;
    }
    if (report_shards.empty()) report_request.journals.push_back(report_journal);
    for (const auto& shard : report_shards)
      report_request.journals.push_back(report_journal + "." + shard);
    code = tools::run_report(report_request);
  });

  tools::quarterly_request quarterly_request;
  std::string quarterly_config;
  auto* quarterly = app.add_subcommand(
      "quarterly", "The quarterly statistics table of the 2017 national notice (rows A-K)");
  quarterly->add_option("--registry", quarterly_request.registry_dir,
                        "the registry's CSV folder, rectifications.csv with it");
  quarterly->add_option("--config", quarterly_config,
                        "rescue-dispatchd TOML configuration: the registry it names");
  quarterly->add_option("--quarter", quarterly_request.quarter, "the quarter, e.g. 2026-Q4")
      ->required();
  quarterly->add_option("--cities", quarterly_request.cities,
                        "J: cities with an emergency platform (default 1, this one)");
  quarterly->add_option("--emergency-number-open", quarterly_request.number_open,
                        "whether 96333 is open to the public: yes (default) or no");
  quarterly
      ->add_option("--quality-published", quarterly_request.quality_published,
                   "whether and how often maintenance quality is published: monthly, "
                   "quarterly, half-yearly, yearly or no")
      ->required();
  quarterly->add_option("--format", quarterly_request.format, "md (default), csv, json or xlsx");
  quarterly->add_option("--lang", quarterly_request.lang, "headings: zh (default) or en");
  quarterly->add_option("--out", quarterly_request.out,
                        "write to this file (required for xlsx; default: standard output)");
  quarterly->callback([&] {
    if (!quarterly_config.empty() && quarterly_request.registry_dir.empty()) {
      try {
        quarterly_request.registry_dir =
            dispatcher::load_server_config(quarterly_config).registry_dir.string();
      } catch (const std::exception& e) {
        std::cerr << "rescuectl: " << e.what() << "\n";
        code = exit_unusable;
        return;
      }
    }
    if (quarterly_request.registry_dir.empty()) {
      std::cerr << "rescuectl: quarterly needs --registry or --config\n";
      code = exit_unusable;
      return;
    }
    code = tools::run_quarterly(quarterly_request);
  });

  tools::upload_export_request upload_request;
  std::string upload_config;
  auto* upload_export = app.add_subcommand(
      "upload-export",
      "The records for the provincial and national platforms of a period, as JSON lines");
  upload_export->add_option("--journal", upload_request.journal,
                            "journal: a SQLite file, redis://HOST:PORT/STORE or "
                            "redis-cluster://SEEDS/STORE (default: the --config's)");
  upload_export->add_option(
      "--config", upload_config,
      "rescue-dispatchd TOML configuration: its journal and [upload] platform");
  upload_export->add_option("--platform", upload_request.platform,
                            "the platform name every record carries (default: [upload] platform)");
  upload_export->add_option("--period", upload_request.period,
                            "a month (2026-11), a quarter (2026-Q4) or a year (2026), UTC+8");
  upload_export->add_option("--from", upload_request.from, "first day or minute, UTC+8");
  upload_export->add_option("--to", upload_request.to, "first day or minute after, UTC+8");
  upload_export->add_option("--out", upload_request.out, "write to this file (default: stdout)");
  upload_export->callback([&] {
    if (!upload_config.empty()) {
      try {
        const auto config = dispatcher::load_server_config(upload_config);
        if (upload_request.journal.empty()) upload_request.journal = config.journal_path.string();
        if (upload_request.platform.empty()) upload_request.platform = config.upload_platform;
      } catch (const std::exception& e) {
        std::cerr << "rescuectl: " << e.what() << "\n";
        code = exit_unusable;
        return;
      }
    }
    if (upload_request.journal.empty()) {
      std::cerr << "rescuectl: upload-export needs --journal or --config\n";
      code = exit_unusable;
      return;
    }
    code = tools::run_upload_export(upload_request);
  });

  std::string config_path, crew_id;
  auto* crew_token = app.add_subcommand(
      "crew-token", "Print the sign-in token of a crew, from the server's [crews] token_secret");
  crew_token->add_option("crew", crew_id, "crew id")->required();
  crew_token->add_option("--config", config_path, "rescue-dispatchd TOML configuration")
      ->required();
  crew_token->callback([&] {
    try {
      const auto config = dispatcher::load_server_config(config_path);
      if (config.crew_token_secret.empty()) {
        std::cerr << "rescuectl: " << config_path << " has no [crews] token_secret\n";
        code = exit_unusable;
        return;
      }
      std::cout << dispatcher::crew_token(config.crew_token_secret, crew_id) << "\n";
    } catch (const std::exception& e) {
      std::cerr << "rescuectl: " << e.what() << "\n";
      code = exit_unusable;
    }
  });

  auto* public_key =
      app.add_subcommand("public-key", "Print the PEM public key of a checkpoint signing key");
  public_key->add_option("--key", key_path, "private key PEM file")->required();
  public_key->callback([&] { code = run_public_key(key_path); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_unusable;
  }
  return code;
}
