#pragma once
// Test helper: a throwaway PKI made with the openssl CLI (/usr/bin/openssl) in a temporary
// directory, removed by the destructor (no key is ever committed):
//   ca.crt            the CA the tests trust
//   server.crt/.key   signed by it, subjectAltName IP:127.0.0.1 and DNS:localhost, serverAuth
//   client.crt/.key   signed by it, clientAuth (mutual TLS)
//   other-ca.crt      an unrelated CA, and other-server.crt/.key signed by it (same names):
//                     a server certificate the tests do not trust
// EC P-256 keys, valid two days. Failures throw std::runtime_error (tests only).

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;  // NOLINT

namespace sig::test {

class TestPki {
 public:
  static constexpr const char* kOpenssl = "/usr/bin/openssl";

  static bool available() { return ::access(kOpenssl, X_OK) == 0; }

  TestPki() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sig-pki-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    try {
      write_config();
      make_ca("ca", "sig-test-ca");
      make_leaf("server", "ca", "server_ext", 2);
      make_leaf("client", "ca", "client_ext", 3);
      make_ca("other-ca", "sig-other-ca");
      make_leaf("other-server", "other-ca", "server_ext", 4);
    } catch (...) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      throw;
    }
  }

  ~TestPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::string ca_cert() const { return file("ca.crt"); }
  std::string server_cert() const { return file("server.crt"); }
  std::string server_key() const { return file("server.key"); }
  std::string client_cert() const { return file("client.crt"); }
  std::string client_key() const { return file("client.key"); }
  std::string other_ca_cert() const { return file("other-ca.crt"); }
  std::string other_server_cert() const { return file("other-server.crt"); }
  std::string other_server_key() const { return file("other-server.key"); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  void write_config() const {
    std::ofstream out(dir_ / "openssl.cnf");
    out << "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = sig-test\n"
           "[ca_ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
           "subjectKeyIdentifier = hash\n"
           "[server_ext]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n"
           "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n"
           "[client_ext]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n"
           "extendedKeyUsage = clientAuth\n";
    if (!out) throw std::runtime_error("cannot write openssl.cnf");
  }

  void make_ca(const std::string& name, const std::string& cn) const {
    run({"req", "-x509", "-config", file("openssl.cnf"), "-extensions", "ca_ext", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", file(name + ".key"), "-out",
         file(name + ".crt"), "-days", "2", "-subj", "/CN=" + cn});
  }

  void make_leaf(const std::string& name, const std::string& ca, const std::string& ext, int serial) const {
    run({"req", "-new", "-config", file("openssl.cnf"), "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", file(name + ".key"), "-out",
         file(name + ".csr"), "-subj", "/CN=" + name});
    run({"x509", "-req", "-in", file(name + ".csr"), "-CA", file(ca + ".crt"), "-CAkey", file(ca + ".key"),
         "-set_serial", std::to_string(serial), "-days", "2", "-extfile", file("openssl.cnf"), "-extensions",
         ext, "-out", file(name + ".crt")});
  }

  // Runs openssl with args, its output in openssl.log; throws with that log on failure.
  void run(std::vector<std::string> args) const {
    args.insert(args.begin(), kOpenssl);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = file("openssl.log");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, kOpenssl, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn openssl failed");
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::ifstream in(log);
      std::stringstream ss;
      ss << in.rdbuf();
      std::string command;
      for (const auto& a : args)
        command += a + " ";
      throw std::runtime_error("openssl failed: " + command + "\n" + ss.str());
    }
  }

  std::filesystem::path dir_;
};

}  // namespace sig::test
