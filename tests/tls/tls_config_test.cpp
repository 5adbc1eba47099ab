// The [tls] table, the start-up checks on plain edges, webhook URLs, and credential reloads.
#include <stdlib.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "rescue/dispatcher/credentials.hpp"
#include "rescue/dispatcher/server_config.hpp"
#include "rescue/dispatcher/webhook_client.hpp"

namespace d = rescue::dispatcher;
namespace fs = std::filesystem;

namespace {

d::server_config parse(const std::string& text) {
  return d::parse_server_config(text, "test.toml", "/etc/rescue");
}

std::string refusal(const std::string& text) {
  try {
    parse(text);
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

fs::path temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "rescue-tls-config-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string tokens(const std::string& operator_token) {
  return "[console]\ntokens = [\n  { token = \"" + operator_token +
         "\", name = \"op\", role = \"operator\" },\n"
         "  { token = \"auditor-token-000001\", name = \"au\", role = \"auditor\" },\n]\n"
         "[fire]\ninbound_token = \"fire-token-" +
         operator_token + "\"\n";
}

}  // namespace

TEST_CASE("the tls table reads every key and resolves paths against the config's folder",
          "[tls][config]") {
  const auto c = parse(R"(
[tls]
cert_path = "tls/server.pem"
key_path = "/secure/server-key.pem"
terminal = true
http = true
client_ca_path = "tls/terminal-ca.pem"
require_client_cert = true
handshake_timeout_s = 5
webhook_ca_path = "tls/webhook-ca.pem"
allow_plain_webhooks = false
allow_plain_on_public_address = false
)");
  CHECK(c.tls.cert_path == "/etc/rescue/tls/server.pem");
  CHECK(c.tls.key_path == "/secure/server-key.pem");
  CHECK(c.tls.terminal);
  CHECK(c.tls.http);
  CHECK(c.tls.client_ca_path == "/etc/rescue/tls/terminal-ca.pem");
  CHECK(c.tls.require_client_cert);
  CHECK(c.tls.handshake_timeout == std::chrono::seconds(5));
  CHECK(c.tls.webhook_ca_path == "/etc/rescue/tls/webhook-ca.pem");
}

TEST_CASE("without a tls table both ports are plain, which loopback allows", "[tls][config]") {
  const auto c = parse("[server]\nlisten_address = \"127.0.0.1\"\n");
  CHECK_FALSE(c.tls.terminal);
  CHECK_FALSE(c.tls.http);
  CHECK(parse("[server]\nlisten_address = \"::1\"\n").listen_address == "::1");
}

TEST_CASE("unsafe or incomplete tls settings are refused at start-up", "[tls][config]") {
  CHECK_THAT(refusal("[tls]\ncertificate = \"x\"\n"),
             Catch::Contains("tls.certificate: unknown key"));
  CHECK_THAT(refusal("[tls]\nterminal = \"yes\"\n"), Catch::Contains("must be true or false"));
  CHECK_THAT(refusal("[tls]\nhttp = true\n"), Catch::Contains("tls.cert_path and tls.key_path"));
  CHECK_THAT(refusal("[tls]\nclient_ca_path = \"ca.pem\"\n"),
             Catch::Contains("needs tls.terminal = true"));
  CHECK_THAT(refusal("[tls]\ncert_path = \"a\"\nkey_path = \"b\"\nterminal = true\n"
                     "require_client_cert = true\n"),
             Catch::Contains("needs tls.client_ca_path"));
  CHECK_THAT(refusal("[server]\nlisten_address = \"eth0\"\n"),
             Catch::Contains("is not an IP address"));
}

TEST_CASE("a plain listener on a public address needs TLS or an explicit opt-out",
          "[tls][config]") {
  CHECK_THAT(refusal("[server]\nlisten_address = \"0.0.0.0\"\n"),
             Catch::Contains("terminal and http ports would be plain TCP"));
  const std::string cert = "cert_path = \"a\"\nkey_path = \"b\"\n";
  CHECK_THAT(refusal("[server]\nlisten_address = \"10.1.2.3\"\n[tls]\n" + cert + "http = true\n"),
             Catch::Contains("terminal port would be plain TCP"));
  CHECK(refusal("[server]\nlisten_address = \"10.1.2.3\"\n[tls]\n" + cert +
                "http = true\nterminal = true\n")
            .empty());
  CHECK(refusal("[server]\nlisten_address = \"0.0.0.0\"\n[tls]\n"
                "allow_plain_on_public_address = true\n")
            .empty());
}

TEST_CASE("webhooks: https anywhere, plain http only to loopback unless allowed", "[tls][config]") {
  CHECK(refusal("[fire]\nwebhook_url = \"https://119.example.cn/escalations\"\n").empty());
  CHECK(refusal("[fire]\nwebhook_url = \"http://127.0.0.1:9119/119\"\n").empty());
  CHECK(refusal("[crews]\nsms_webhook_url = \"http://localhost:8080/sms\"\n").empty());
  CHECK_THAT(refusal("[fire]\nwebhook_url = \"http://119.example.cn/escalations\"\n"),
             Catch::Contains("fire.webhook_url: plain http:// to 119.example.cn is refused"));
  CHECK_THAT(refusal("[crews]\nsms_webhook_url = \"http://10.0.0.5/sms\"\n"),
             Catch::Contains("crews.sms_webhook_url"));
  CHECK_THAT(refusal("[crews]\nsms_webhook_url = \"ftp://10.0.0.5/sms\"\n"),
             Catch::Contains("is not an http:// or https:// URL"));
  CHECK(refusal("[crews]\nsms_webhook_url = \"http://10.0.0.5/sms\"\n"
                "[tls]\nallow_plain_webhooks = true\n")
            .empty());
}

TEST_CASE("https URLs parse with port 443 by default", "[tls][config]") {
  const auto u = d::parse_http_url("https://119.example.cn/v1/escalations?x=1");
  REQUIRE(u);
  CHECK(u->tls);
  CHECK(u->host == "119.example.cn");
  CHECK(u->port == "443");
  CHECK(u->target == "/v1/escalations?x=1");
  const auto v6 = d::parse_http_url("HTTPS://[::1]:8443");
  REQUIRE(v6);
  CHECK(v6->tls);
  CHECK(v6->host == "::1");
  CHECK(v6->port == "8443");
  CHECK_FALSE(d::parse_http_url("https://user:pw@host/"));
  CHECK_FALSE(d::parse_http_url("https://"));
}

TEST_CASE("a reload swaps all credentials at once, and a bad file leaves them as they were",
          "[tls][config]") {
  const fs::path dir = temp_dir();
  const fs::path file = dir / "rescue-dispatchd.toml";
  write(file, tokens("first-operator-token"));
  d::credential_store store(d::credentials_from(d::load_server_config(file)));
  const auto before = store.current();
  REQUIRE(before->console_tokens.size() == 2);

  write(file, tokens("second-operator-token") + "[crews]\ntoken_secret = \"new-secret\"\n");
  const auto ok = d::reload_credentials(store, file);
  CHECK(ok.ok);
  CHECK_THAT(ok.message, Catch::Contains("2 console token(s)"));
  const auto after = store.current();
  CHECK(after->console_tokens[0].token == "second-operator-token");
  CHECK(after->fire_inbound_token == "fire-token-second-operator-token");
  CHECK(after->crew_token_secret == "new-secret");
  // A snapshot taken earlier does not change under its reader.
  CHECK(before->console_tokens[0].token == "first-operator-token");

  write(file, "[console]\ntokens = [ { token = \"short\", name = \"x\" } ]\n");
  const auto bad = d::reload_credentials(store, file);
  CHECK_FALSE(bad.ok);
  CHECK_THAT(bad.message, Catch::Contains("must be at least 16 characters"));
  CHECK(store.current()->console_tokens[0].token == "second-operator-token");
  std::error_code ec;
  fs::remove_all(dir, ec);
}
