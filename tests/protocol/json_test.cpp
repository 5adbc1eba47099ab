// The one JSON convention of every body: the protobuf mapping, 64-bit integers as strings, and
// the helpers shared by every channel.
#include <catch2/catch.hpp>

#include "rescue/console.pb.h"
#include "rescue/journal.pb.h"
#include "rescue/protocol/event_type.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/protocol/utf8.hpp"
#include "rescue/webhooks.pb.h"

namespace v1 = rescue::v1;
using rescue::protocol::json_fields;
using rescue::protocol::to_json;

TEST_CASE("64-bit integers are JSON strings and 32-bit ones numbers, in every rendering",
          "[unit][json]") {
  v1::CrewOnMap crew;
  crew.set_id("c1");
  crew.set_current_incident_id(17);
  crew.set_position_at_ms(1'700'000'000'000);
  crew.set_position_age_s(12);
  for (const auto fields : {json_fields::set, json_fields::all}) {
    const std::string json = to_json(crew, fields);
    INFO(json);
    CHECK(json.find(R"("current_incident_id":"17")") != std::string::npos);
    CHECK(json.find(R"("position_at_ms":"1700000000000")") != std::string::npos);
    CHECK(json.find(R"("position_age_s":12)") != std::string::npos);
  }
}

TEST_CASE("responses leave defaults out, webhook payloads print every field", "[unit][json]") {
  v1::FireEscalation escalation;
  escalation.set_kind("fire_escalation");
  escalation.set_incident_id(3);
  CHECK(to_json(escalation) == R"({"kind":"fire_escalation","incident_id":"3"})");
  const std::string all = to_json(escalation, json_fields::all);
  INFO(all);
  CHECK(all.find(R"("injured":false)") != std::string::npos);
  CHECK(all.find(R"("assigned_crew_id":"")") != std::string::npos);
  CHECK(all.find(R"("reason":"ESCALATION_UNSPECIFIED")") != std::string::npos);
  CHECK(all.find(R"("alarm_at_ms":"0")") != std::string::npos);
  // An empty list printed with every field keeps its list.
  CHECK(to_json(v1::IncidentList{}, json_fields::all) == R"({"incidents":[]})");
}

TEST_CASE("a number or a string is accepted for a 64-bit field", "[unit][json]") {
  v1::FireEscalation parsed;
  REQUIRE(rescue::protocol::from_json(R"({"incident_id":17})", parsed).empty());
  CHECK(parsed.incident_id() == 17);
  REQUIRE(rescue::protocol::from_json(R"({"incident_id":"18"})", parsed).empty());
  CHECK(parsed.incident_id() == 18);
}

TEST_CASE("an event is named by its body field, an event without a body is unset", "[unit][json]") {
  v1::Event event;
  CHECK(rescue::protocol::event_type_name(event) == "unset");
  event.mutable_offer_made()->set_crew_id("c1");
  CHECK(rescue::protocol::event_type_name(event) == "offer_made");
  // Every body case has the name of its field.
  const auto* body = v1::Event::descriptor()->FindOneofByName("body");
  REQUIRE(body);
  for (int i = 0; i < body->field_count(); ++i) {
    const auto* field = body->field(i);
    v1::Event e;
    e.GetReflection()->MutableMessage(&e, field);
    CHECK(rescue::protocol::event_type_name(e) == field->name());
  }
}

TEST_CASE("text that is not UTF-8 is made valid byte by byte, valid text is kept", "[unit][json]") {
  using rescue::protocol::valid_utf8;
  CHECK(valid_utf8("重庆 ok") == "重庆 ok");
  CHECK(valid_utf8("a\xff"
                   "b") ==
        "a\xef\xbf\xbd"
        "b");
  CHECK(valid_utf8("\xe9\x87") == "\xef\xbf\xbd\xef\xbf\xbd");  // a cut-off sequence
  CHECK(valid_utf8("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
  char32_t cp = 0;
  CHECK(rescue::protocol::utf8_sequence("\xe9\x87\x8d", cp) == 3);
  CHECK(cp == U'重');
}
