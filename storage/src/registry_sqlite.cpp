#include "rescue/storage/registry_sqlite.hpp"

#include "rescue/storage/private_files.hpp"
#include "rescue/storage/sqlite_statement.hpp"

#include <sqlite3.h>

#include <memory>

#include "rescue/registry.pb.h"

namespace rescue::storage {
namespace {

namespace v1 = rescue::v1;

constexpr const char* schema = R"sql(
CREATE TABLE registry_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE units(
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, licence TEXT,
  contact_name TEXT, contact_phone TEXT, level2_participant INTEGER NOT NULL,
  base_lat REAL, base_lon REAL);
CREATE TABLE building_operators(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, contact_name TEXT, contact_phone TEXT);
CREATE TABLE elevators(
  id TEXT PRIMARY KEY, registration_code TEXT, certificate_no TEXT, rescue_code TEXT NOT NULL,
  address TEXT, district_code TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
  place_type TEXT, brand TEXT, install_year INTEGER, maintenance_unit_id TEXT,
  building_operator_id TEXT, area TEXT NOT NULL, terminal_id TEXT);
CREATE INDEX elevators_by_rescue_code ON elevators(rescue_code);
CREATE INDEX elevators_by_registration_code ON elevators(registration_code);
CREATE INDEX elevators_by_unit ON elevators(maintenance_unit_id);
CREATE TABLE crews(
  id TEXT PRIMARY KEY, unit_id TEXT NOT NULL, name TEXT, certificate TEXT, phone TEXT,
  on_duty INTEGER NOT NULL, lat REAL, lon REAL, position_at_ms INTEGER);
CREATE TABLE terminals(id TEXT PRIMARY KEY, elevator_id TEXT NOT NULL);
CREATE TABLE rectifications(
  elevator_id TEXT NOT NULL, origin TEXT NOT NULL, found_on TEXT NOT NULL, status TEXT NOT NULL,
  status_on TEXT NOT NULL, remark TEXT);
CREATE INDEX rectifications_by_elevator ON rectifications(elevator_id);
)sql";

// close_v2: statements still alive when the connection goes do not keep it open forever.
struct db_closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

// Binds each value in order and steps once; false on any SQLite error. Empty text is NULL.
class inserter {
 public:
  inserter(sqlite3* db, const char* sql) : stmt_(db, sql) {}
  bool ok() const { return stmt_.ok(); }

  template <class... Values>
  bool row(const Values&... values) {
    stmt_.reset();
    int i = 0;
    (bind(++i, values), ...);
    return stmt_.step() == SQLITE_DONE;
  }

 private:
  void bind(int i, const std::string& v) {
    if (v.empty())
      stmt_.bind_null(i);
    else
      stmt_.bind_text(i, v);
  }
  void bind(int i, double v) { stmt_.bind(i, v); }
  void bind(int i, std::int64_t v) { stmt_.bind(i, v); }
  void bind(int i, bool v) { stmt_.bind(i, std::int64_t{v ? 1 : 0}); }
  void bind(int i, std::uint32_t v) { stmt_.bind(i, std::int64_t{v}); }

  sqlite_statement stmt_;
};

std::string place_word(v1::PlaceType p) {
  switch (p) {
    case v1::PLACE_RESIDENTIAL:
      return "residential";
    case v1::PLACE_HOSPITAL:
      return "hospital";
    case v1::PLACE_MALL:
      return "mall";
    case v1::PLACE_OFFICE:
      return "office";
    case v1::PLACE_METRO:
      return "metro";
    case v1::PLACE_SCHOOL:
      return "school";
    case v1::PLACE_HOTEL:
      return "hotel";
    case v1::PLACE_PUBLIC:
      return "public";
    case v1::PLACE_INDUSTRIAL:
      return "industrial";
    case v1::PLACE_OTHER:
      return "other";
    default:
      return "";
  }
}

}  // namespace

std::string write_registry_sqlite(const registry& reg, const std::filesystem::path& file,
                                  const std::string& source, std::int64_t loaded_at_ms) {
  const std::filesystem::path temp = file.string() + ".new";
  std::error_code fs_ec;
  std::filesystem::remove(temp, fs_ec);
  if (const auto ec = create_private_file(temp))
    return "cannot create " + temp.string() + ": " + ec.message();
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(temp.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string why = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return "cannot create " + temp.string() + ": " + why;
  }
  std::unique_ptr<sqlite3, db_closer> db(raw);
  auto fail = [&](const std::string& what) {
    const std::string why = what + ": " + sqlite3_errmsg(db.get());
    db.reset();
    std::filesystem::remove(temp, fs_ec);
    return why;
  };
  if (sqlite3_exec(db.get(), "PRAGMA journal_mode=DELETE; BEGIN;", nullptr, nullptr, nullptr) !=
          SQLITE_OK ||
      sqlite3_exec(db.get(), schema, nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail("registry schema");

  // The statements live in this block: they are finalized before the connection closes.
  bool ok = false;
  {
    inserter meta(db.get(), "INSERT INTO registry_meta VALUES (?, ?)");
    inserter units(db.get(), "INSERT INTO units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    inserter ops(db.get(), "INSERT INTO building_operators VALUES (?, ?, ?, ?)");
    inserter elevators(
        db.get(), "INSERT INTO elevators VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    inserter crews(db.get(), "INSERT INTO crews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    inserter terminals(db.get(), "INSERT INTO terminals VALUES (?, ?)");
    inserter rectifications(db.get(), "INSERT INTO rectifications VALUES (?, ?, ?, ?, ?, ?)");
    if (!meta.ok() || !units.ok() || !ops.ok() || !elevators.ok() || !crews.ok() ||
        !terminals.ok() || !rectifications.ok())
      return fail("registry statements");

    ok = meta.row(std::string("source"), source) &&
         meta.row(std::string("loaded_at_ms"), std::to_string(loaded_at_ms)) &&
         meta.row(std::string("elevators"), std::to_string(reg.elevators().size()));
    for (const auto& u : reg.units())
      ok = ok && units.row(u.id(),
                           std::string(u.kind() == v1::ORG_RESCUE_STATION ? "rescue_station"
                                                                          : "maintenance_unit"),
                           u.name(), u.licence(), u.contact_name(), u.contact_phone(),
                           u.level2_participant(), u.base().lat(), u.base().lon());
    for (const auto& o : reg.building_operators())
      ok = ok && ops.row(o.id(), o.name(), o.contact_name(), o.contact_phone());
    for (const auto& e : reg.elevators())
      ok = ok && elevators.row(e.id(), e.registration_code(), e.certificate_no(), e.rescue_code(),
                               e.address(), e.district_code(), e.location().lat(),
                               e.location().lon(), place_word(e.place_type()), e.brand(),
                               e.install_year(), e.maintenance_unit_id(), e.building_operator_id(),
                               std::string(e.area() == v1::AREA_RURAL ? "rural" : "urban"),
                               e.terminal_id());
    for (const auto& c : reg.crews())
      ok = ok && crews.row(c.id(), c.unit_id(), c.name(), c.certificate(), c.phone(), c.on_duty(),
                           c.position().lat(), c.position().lon(),
                           static_cast<std::int64_t>(c.position_at_ms()));
    // The terminals' shared secrets stay out: this file is for reading, by anyone who audits.
    for (const auto& t : reg.terminals())
      ok = ok && terminals.row(t.id(), t.elevator_id());
    static const char* const origins[] = {"", "listed", "review"};
    static const char* const statuses[] = {"", "rectified", "rectifying", "sealed", "supervised"};
    for (const auto& r : reg.rectifications())
      ok = ok &&
           rectifications.row(r.elevator_id(), std::string(origins[r.origin() % 3]), r.found_on(),
                              std::string(statuses[r.status() % 5]), r.status_on(), r.remark());
  }
  if (!ok) return fail("registry rows");
  if (sqlite3_exec(db.get(), "COMMIT;", nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail("registry commit");
  db.reset();
  std::filesystem::rename(temp, file, fs_ec);
  if (fs_ec) return "cannot replace " + file.string() + ": " + fs_ec.message();
  return {};
}

}  // namespace rescue::storage
