// signaling-load: a load generator for the signaling server, the floor relay and peerjs-server.
//
// One parent process creates the sessions (admin API), mints the tokens and forks the client
// processes (as many as the descriptor limit requires); each client process runs worker threads
// with one io_context each and thousands of real connections. All processes follow the same
// clock schedule (CLOCK_MONOTONIC), so a message sent in one process and received in another is
// timed correctly. The parent samples the server's RSS and CPU, merges the histograms and prints
// a summary and one JSON line.

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <CLI/CLI.hpp>

#include "admin.hpp"
#include "hs256.hpp"
#include "runner.hpp"

namespace load {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

Endpoint parse_endpoint(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("target '" + s + "' is not host:port");
  Endpoint e;
  e.host = s.substr(0, colon);
  if (e.host == "localhost") e.host = "127.0.0.1";
  const int port = std::stoi(s.substr(colon + 1));
  if (port <= 0 || port > 65535) throw std::invalid_argument("bad port in '" + s + "'");
  e.port = static_cast<std::uint16_t>(port);
  return e;
}

// /proc/<pid>/status VmRSS in kB; -1 when unreadable.
long rss_kb(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// utime + stime of a process, in seconds; -1 when unreadable.
double cpu_seconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto paren = all.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream rest(all.substr(paren + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stod(field);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Summed over the system under test: the server and its --extra-pids (a second node, redis-server);
// negative when one of them cannot be read.
template <typename Read>
auto sum_over_system(const Options& o, Read read) {
  auto total = read(o.server_pid);
  for (const int pid : o.extra_pids) {
    if (total < 0) break;
    const auto v = read(pid);
    total = v < 0 ? v : total + v;
  }
  return total;
}
long system_rss_kb(const Options& o) {
  return sum_over_system(o, rss_kb);
}
double system_cpu_seconds(const Options& o) {
  return sum_over_system(o, cpu_seconds);
}

// The soft descriptor limit of another process (/proc/<pid>/limits); 0 when unknown.
long proc_nofile_limit(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("Max open files", 0) == 0) {
      std::istringstream is(line.substr(14));
      long soft = 0;
      is >> soft;
      return soft;
    }
  }
  return 0;
}

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    off += static_cast<std::size_t>(n);
  }
}

// Reads one line (without '\n') before the deadline; nullopt on timeout or end of file.
std::optional<std::string> read_line(int fd, std::string& buf, std::int64_t deadline_ns) {
  for (;;) {
    const auto nl = buf.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      return line;
    }
    const std::int64_t left = deadline_ns - now_ns();
    if (left <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left / 1'000'000 + 1, 1000)));
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (r <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

void sleep_until_ns(std::int64_t t) {
  const std::int64_t d = t - now_ns();
  if (d > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(d));
}

std::string make_prefix() {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto v = static_cast<unsigned long>(::getpid()) * 7919ul + static_cast<unsigned long>(std::time(nullptr));
  std::string s = "L";
  for (int i = 0; i < 4; ++i) {
    s += kDigits[v % 36];
    v /= 36;
  }
  return s;
}

const char* protocol_name(Protocol p) {
  return p == Protocol::signaling ? "signaling" : p == Protocol::floor ? "floor" : "peerjs";
}
const char* mode_name(Mode m) {
  return m == Mode::relay ? "relay" : m == Mode::join ? "join" : "hold";
}

// ---------------------------------------------------------------------------------------------
// A client process.

int run_child(const Options& o, const Templates& templates, const std::vector<Slot>& slots, std::size_t child,
              std::size_t processes, std::size_t sessions, int in_fd, int out_fd) {
  std::vector<const Slot*> mine;
  for (std::size_t s = child; s < sessions; s += processes)
    for (std::size_t m = 0; m < o.session_size; ++m)
      mine.push_back(&slots[s * o.session_size + m]);
  const std::size_t threads = std::max<std::size_t>(1, std::min(o.threads, mine.size()));
  const std::size_t steps = o.mode == Mode::relay ? o.rates.size() : 1;
  std::vector<std::atomic<std::uint64_t>> offered(steps), delivered(steps);
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    std::size_t count = 0;
    for (std::size_t i = t; i < mine.size(); i += threads)
      ++count;
    const double share = static_cast<double>(count) / static_cast<double>(slots.size());
    auto w = std::make_unique<Worker>(o, templates, child * 64 + t, share);
    for (std::size_t i = t; i < mine.size(); i += threads)
      w->add_slot(mine[i]);
    w->shared_offered = &offered;
    w->shared_delivered = &delivered;
    workers.push_back(std::move(w));
  }
  for (auto& w : workers)
    w->start_thread();
  for (auto& w : workers)
    w->begin_connect();
  std::size_t ok = 0, bad = 0;
  if (o.mode != Mode::join) {
    const std::int64_t deadline = now_ns() + static_cast<std::int64_t>(o.connect_timeout_s * 1e9);
    while (now_ns() < deadline) {
      ok = bad = 0;
      for (auto& w : workers) {
        ok += w->connected.load();
        bad += w->failed.load();
      }
      if (ok + bad >= mine.size()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  write_all(out_fd, "READY " + std::to_string(ok) + " " + std::to_string(bad) + "\n");
  std::string buf;
  const auto go = read_line(in_fd, buf, now_ns() + 600'000'000'000);
  Stats total;
  if (go && go->rfind("GO ", 0) == 0) {
    const Schedule schedule = make_schedule(o, std::stoll(go->substr(3)));
    for (auto& w : workers)
      w->begin_run(schedule);
    sleep_until_ns(schedule.end_all + 50'000'000);
  }
  for (auto& w : workers)
    w->stop();
  for (auto& w : workers)
    total.merge(w->stats);
  write_all(out_fd, "RESULT " + total.to_json().dump() + "\n");
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The parent.

struct ChildProc {
  pid_t pid = -1;
  int to_child = -1, from_child = -1;
  std::string buf;
};

int run(Options& o) {
  if (o.targets.empty()) o.targets.push_back({"127.0.0.1", 8080});
  if (o.prefix.empty()) o.prefix = make_prefix();
  if (o.session_size < 2) throw std::invalid_argument("--session-size must be at least 2");
  if (o.mode == Mode::relay && o.rates.empty()) o.rates = {1000};
  if (o.clients == 0) o.clients = o.mode == Mode::hold ? 1000 : 400;
  if (o.sdp_every == 0) o.sdp_every = 1;

  std::size_t sessions = (o.clients + o.session_size - 1) / o.session_size;
  if (o.mode == Mode::join) {
    sessions = o.join_sessions
                   ? o.join_sessions
                   : static_cast<std::size_t>(std::ceil(o.join_rate * (o.join_hold_ms / 1000.0 + 0.5) * 2.0 /
                                                        static_cast<double>(o.session_size))) +
                         1;
  }
  const std::size_t total = sessions * o.session_size;

  // Descriptors: one per connection; a process holds at most ~19,000 (margin for pipes, epoll, etc.).
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  constexpr std::size_t kMargin = 1000;  // stay near 19,000 connections per process
  const std::size_t per_process_budget =
      rl.rlim_cur > kMargin + 1 ? static_cast<std::size_t>(rl.rlim_cur) - kMargin : 1;
  const std::size_t needed = (total + o.session_size - 1);
  std::size_t processes = o.processes;
  const std::size_t min_processes =
      std::max<std::size_t>(1, (needed + per_process_budget - 1) / per_process_budget);
  if (processes == 0) processes = min_processes;
  if (processes < min_processes) {
    std::fprintf(stderr,
                 "signaling-load: %zu connections need %zu descriptors per process with --processes %zu, but "
                 "RLIMIT_NOFILE is %llu (hard limit); use --processes %zu or more\n",
                 total, (total + processes - 1) / processes, processes,
                 static_cast<unsigned long long>(rl.rlim_cur), min_processes);
    return 2;
  }
  processes = std::min(processes, sessions);
  if (o.server_pid > 0) {
    const long server_limit = proc_nofile_limit(o.server_pid);
    if (server_limit > 0 && static_cast<long>(total) + 16 > server_limit)
      std::fprintf(stderr,
                   "signaling-load: warning: %zu connections to one server process need as many descriptors; "
                   "the server's RLIMIT_NOFILE is %ld\n",
                   total, server_limit);
  }
  if (total > 25000 && o.source_addrs == 0)
    std::fprintf(stderr,
                 "signaling-load: warning: %zu connections from one source address may exhaust the "
                 "ephemeral ports; use --source-addrs\n",
                 total);

  // Participants and tokens.
  const std::int64_t exp = static_cast<std::int64_t>(std::time(nullptr)) + 3600 +
                           static_cast<std::int64_t>(o.duration_s * static_cast<double>(o.rates.size() + 1));
  std::vector<Slot> slots(total);
  for (std::size_t g = 0; g < total; ++g) {
    Slot& s = slots[g];
    char buf[32];
    s.gid = g;
    std::snprintf(buf, sizeof buf, "u%08zu", g);
    s.user_id = o.prefix + buf;
    std::snprintf(buf, sizeof buf, "s%06zu", g / o.session_size);
    s.session_id = o.prefix + buf;
    s.target = (g % o.session_size) % o.targets.size();
    if (o.protocol == Protocol::signaling)
      s.token = mint_hs256(o.jwt_secret, s.user_id, "Load " + std::to_string(g), exp);
  }

  nlohmann::json rss;
  rss["baseline_kb"] = system_rss_kb(o);
  const std::int64_t t_setup = now_ns();
  if (o.protocol == Protocol::signaling) {
    std::vector<std::unique_ptr<AdminClient>> admins;
    for (std::size_t i = 0; i < (o.admin_all_targets ? o.targets.size() : 1); ++i)
      admins.push_back(std::make_unique<AdminClient>(o.targets[i], o.admin_key));
    for (std::size_t s = 0; s < sessions; ++s) {
      nlohmann::json body;
      body["hostUserId"] = slots[s * o.session_size].user_id;
      body["participants"] = nlohmann::json::array();
      for (std::size_t m = 0; m < o.session_size; ++m) {
        const Slot& sl = slots[s * o.session_size + m];
        body["participants"].push_back(
            {{"userId", sl.user_id}, {"displayName", "Load " + std::to_string(sl.gid)}});
      }
      const std::string text = body.dump();
      for (auto& a : admins) {
        std::string answer;
        const int status =
            a->request("PUT", "/api/sessions/" + slots[s * o.session_size].session_id, text, &answer);
        if (status != 200 && status != 201) {
          std::fprintf(stderr, "signaling-load: PUT /api/sessions/%s answered %d: %s\n",
                       slots[s * o.session_size].session_id.c_str(), status, answer.substr(0, 300).c_str());
          return 2;
        }
      }
    }
  }
  const double setup_s = static_cast<double>(now_ns() - t_setup) / 1e9;
  rss["after_sessions_kb"] = system_rss_kb(o);

  const std::size_t id_width = o.prefix.size() + 9;
  const Templates templates(o.protocol, id_width, o.sdp_sizes, o.ice_size);

  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<ChildProc> children(processes);
  for (std::size_t c = 0; c < processes; ++c) {
    int down[2], up[2];
    if (::pipe(down) != 0 || ::pipe(up) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::close(down[1]);
      ::close(up[0]);
      for (std::size_t k = 0; k < c; ++k) {
        ::close(children[k].to_child);
        ::close(children[k].from_child);
      }
      int rc = 1;
      try {
        rc = run_child(o, templates, slots, c, processes, sessions, down[0], up[1]);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "signaling-load: client process %zu: %s\n", c, e.what());
      }
      std::fflush(stderr);
      ::_exit(rc);
    }
    ::close(down[0]);
    ::close(up[1]);
    children[c].pid = pid;
    children[c].to_child = down[1];
    children[c].from_child = up[0];
  }

  // Wait until every process has connected its clients.
  std::size_t connected = 0, connect_failed = 0;
  const std::int64_t ready_deadline = now_ns() + static_cast<std::int64_t>((o.connect_timeout_s + 30) * 1e9);
  for (auto& ch : children) {
    const auto line = read_line(ch.from_child, ch.buf, ready_deadline);
    if (!line || line->rfind("READY ", 0) != 0) {
      std::fprintf(stderr, "signaling-load: a client process did not get ready\n");
      continue;
    }
    std::istringstream is(line->substr(6));
    std::size_t a = 0, b = 0;
    is >> a >> b;
    connected += a;
    connect_failed += b;
  }
  const double connect_s = static_cast<double>(now_ns() - t_setup) / 1e9 - setup_s;
  rss["connected_kb"] = system_rss_kb(o);

  const std::int64_t t0 = now_ns() + 300'000'000;
  const Schedule schedule = make_schedule(o, t0);
  for (auto& ch : children)
    write_all(ch.to_child, "GO " + std::to_string(t0) + "\n");

  // CPU of the server and of the client processes over each measured window.
  auto loader_cpu = [&] {
    double s = 0;
    for (auto& ch : children)
      s += std::max(0.0, cpu_seconds(ch.pid));
    return s;
  };
  std::vector<std::pair<double, double>> cpu_server(schedule.steps.size()), cpu_loader(schedule.steps.size());
  for (std::size_t i = 0; i < schedule.steps.size(); ++i) {
    const auto& w = schedule.steps[i];
    sleep_until_ns(w.measure_start);
    const double s0 = system_cpu_seconds(o), l0 = loader_cpu();
    const std::int64_t ts0 = now_ns();
    const std::int64_t sample_at = o.mode == Mode::hold ? w.measure_end - 300'000'000 : w.measure_end;
    sleep_until_ns(sample_at);
    const double secs = static_cast<double>(now_ns() - ts0) / 1e9;
    if (o.mode == Mode::hold) rss["held_kb"] = system_rss_kb(o);
    cpu_server[i] = {s0 >= 0 ? (system_cpu_seconds(o) - s0) / secs : -1, secs};
    cpu_loader[i] = {(loader_cpu() - l0) / secs, secs};
  }

  Stats stats;
  bool child_failed = false;
  const std::int64_t result_deadline = schedule.end_all + 60'000'000'000;
  for (auto& ch : children) {
    std::optional<std::string> line;
    while ((line = read_line(ch.from_child, ch.buf, result_deadline)) && line->rfind("RESULT ", 0) != 0) {
    }
    if (!line) {
      child_failed = true;
      std::fprintf(stderr, "signaling-load: a client process gave no result\n");
      ::kill(ch.pid, SIGKILL);
    } else {
      stats.merge(Stats::from_json(nlohmann::json::parse(line->substr(7))));
    }
    int status = 0;
    ::waitpid(ch.pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) child_failed = true;
    ::close(ch.to_child);
    ::close(ch.from_child);
  }
  if (o.mode == Mode::hold && o.server_pid > 0) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    rss["after_close_kb"] = system_rss_kb(o);
  }
  if (o.protocol == Protocol::signaling && o.cleanup) {
    try {
      AdminClient admin(o.targets[0], o.admin_key);
      for (std::size_t s = 0; s < sessions; ++s)
        admin.request("DELETE", "/api/sessions/" + slots[s * o.session_size].session_id, "");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "signaling-load: cleanup: %s\n", e.what());
    }
  }

  // ---- Report.
  nlohmann::json out;
  out["tool"] = "signaling-load";
  out["label"] = o.label;
  out["protocol"] = protocol_name(o.protocol);
  out["mode"] = mode_name(o.mode);
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& t : o.targets)
    targets.push_back(t.str());
  out["targets"] = targets;
  out["sessions"] = sessions;
  out["session_size"] = o.session_size;
  out["clients"] = total;
  out["processes"] = processes;
  out["threads_per_process"] = o.threads;
  out["source_addrs"] = o.source_addrs;
  out["rlimit_nofile"] = static_cast<unsigned long long>(rl.rlim_cur);
  out["setup_s"] = setup_s;
  out["connect_s"] = connect_s;
  out["connected"] = o.mode == Mode::join ? stats.joins_ok : connected;
  out["connect_failed"] = o.mode == Mode::join ? stats.joins_failed : connect_failed;
  out["fail_codes"] = stats.fail_codes;
  out["errors"] = stats.errors;
  out["received"] = stats.received;
  out["closed_unexpected"] = stats.closed_unexpected;
  out["relay_missing_from"] = stats.relay_missing_from;
  out["bytes_sent"] = stats.bytes_sent;
  out["bytes_received"] = stats.bytes_received;
  out["fd_limit_hit"] = stats.fd_limit;
  out["server_pid"] = o.server_pid;
  out["extra_pids"] = o.extra_pids;
  out["rss"] = rss;
  out["client_process_failed"] = child_failed;

  std::ostringstream human;
  human << "signaling-load " << protocol_name(o.protocol) << " " << mode_name(o.mode) << " -> ";
  for (const auto& t : o.targets)
    human << t.str() << " ";
  human << "\n  " << total << " participants in " << sessions << " sessions, " << processes
        << " process(es) x " << o.threads << " thread(s); connected " << out["connected"] << ", failed "
        << out["connect_failed"] << " (setup " << setup_s << " s, connect " << connect_s << " s)\n";
  if (stats.fd_limit)
    human << "  !! the descriptor limit was reached (RLIMIT_NOFILE " << rl.rlim_cur << "): use --processes\n";
  if (!stats.fail_codes.empty())
    human << "  connect failures: " << nlohmann::json(stats.fail_codes).dump() << "\n";
  if (!stats.errors.empty()) human << "  errors: " << nlohmann::json(stats.errors).dump() << "\n";

  auto fmt = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return std::string(b);
  };
  if (o.mode == Mode::relay) {
    nlohmann::json steps = nlohmann::json::array();
    double max_sustained = 0, max_delivered = 0, sustained_offered = 0;
    human
        << "  offered/s  delivered/s  ratio   p50_us   p99_us  p999_us   max_us  lag_p99_us  dropped  late  "
           "server_cpu  loader_cpu\n";
    for (std::size_t i = 0; i < schedule.steps.size() && i < stats.steps.size(); ++i) {
      const auto& st = stats.steps[i];
      const double secs = o.duration_s;
      const double off_rate = static_cast<double>(st.offered) / secs;
      const double del_rate = static_cast<double>(st.delivered) / secs;
      const double ratio =
          st.offered ? static_cast<double>(st.delivered) / static_cast<double>(st.offered) : 0;
      const auto lat = st.latency.summary_us();
      const double p99_ms = static_cast<double>(st.latency.percentile(0.99)) / 1e6;
      const bool skipped = st.offered == 0;
      const double p50_ms = static_cast<double>(st.latency.percentile(0.5)) / 1e6;
      const bool sustained = !skipped && ratio >= o.sustain_ratio && st.dropped == 0 &&
                             (o.sustain_p99_ms <= 0 || p99_ms <= o.sustain_p99_ms) &&
                             (o.sustain_p50_ms <= 0 || p50_ms <= o.sustain_p50_ms);
      if (sustained && del_rate > max_sustained) {
        max_sustained = del_rate;
        sustained_offered = schedule.steps[i].rate;
      }
      max_delivered = std::max(max_delivered, del_rate);
      nlohmann::json js = {{"offered_rate_target", schedule.steps[i].rate},
                           {"offered_rate", off_rate},
                           {"delivered_rate", del_rate},
                           {"delivery_ratio", ratio},
                           {"offered", st.offered},
                           {"delivered", st.delivered},
                           {"dropped", st.dropped},
                           {"late", st.late},
                           {"latency", lat},
                           {"send_lag", st.lag.summary_us()},
                           {"server_cpu", cpu_server[i].first},
                           {"loader_cpu", cpu_loader[i].first},
                           {"sustained", sustained},
                           {"skipped", skipped}};
      steps.push_back(js);
      char line[256];
      std::snprintf(line, sizeof line,
                    "  %9.0f  %11.0f  %5.3f %8.1f %8.1f %8.1f %8.1f  %10.1f  %7llu %5llu  %9.2f  %10.2f%s\n",
                    off_rate, del_rate, ratio, lat["p50_us"].get<double>(), lat["p99_us"].get<double>(),
                    lat["p999_us"].get<double>(), lat["max_us"].get<double>(),
                    st.lag.summary_us()["p99_us"].get<double>(), static_cast<unsigned long long>(st.dropped),
                    static_cast<unsigned long long>(st.late), cpu_server[i].first, cpu_loader[i].first,
                    skipped     ? "  (skipped: saturated)"
                    : sustained ? ""
                                : "  (not sustained)");
      human << line;
    }
    out["steps"] = steps;
    out["max_sustained_rate"] = max_sustained;
    out["max_sustained_offered"] = sustained_offered;
    out["max_delivered_rate"] = max_delivered;
    out["sustain_rule"] = {{"min_ratio", o.sustain_ratio},
                           {"max_p50_ms", o.sustain_p50_ms},
                           {"max_p99_ms", o.sustain_p99_ms},
                           {"no_drops", true}};
    human << "  max sustained relay rate: " << fmt(max_sustained)
          << " msgs/s; max delivered: " << fmt(max_delivered) << " msgs/s\n";
  } else if (o.mode == Mode::join) {
    const auto lat = stats.join_latency.summary_us();
    nlohmann::json j = {{"rate_target", o.join_rate},
                        {"started", stats.joins_started},
                        {"ok", stats.joins_ok},
                        {"failed", stats.joins_failed},
                        {"no_free_slot", stats.joins_no_slot},
                        {"leaves", stats.leaves},
                        {"measured", stats.join_latency.count()},
                        {"measured_rate", static_cast<double>(stats.join_latency.count()) / o.duration_s},
                        {"latency", lat},
                        {"hold_ms", o.join_hold_ms},
                        {"server_cpu", cpu_server[0].first},
                        {"loader_cpu", cpu_loader[0].first}};
    out["join"] = j;
    human << "  joins: started " << stats.joins_started << ", ok " << stats.joins_ok << ", failed "
          << stats.joins_failed << ", no free slot " << stats.joins_no_slot << ", leaves " << stats.leaves
          << "\n"
          << "  join latency (connect start -> joined) over " << stats.join_latency.count() << " joins at "
          << fmt(static_cast<double>(stats.join_latency.count()) / o.duration_s) << "/s: p50 "
          << fmt(lat["p50_us"]) << " us, p99 " << fmt(lat["p99_us"]) << " us, p99.9 " << fmt(lat["p999_us"])
          << " us, max " << fmt(lat["max_us"]) << " us\n";
  } else {
    const double per_conn_total =
        connected && rss["held_kb"].get<long>() > 0
            ? static_cast<double>(rss["held_kb"].get<long>() - rss["baseline_kb"].get<long>()) * 1024.0 /
                  static_cast<double>(connected)
            : -1;
    const double per_conn_only =
        connected && rss["held_kb"].get<long>() > 0
            ? static_cast<double>(rss["held_kb"].get<long>() - rss["after_sessions_kb"].get<long>()) *
                  1024.0 / static_cast<double>(connected)
            : -1;
    const auto rtt = stats.hb_rtt.summary_us();
    nlohmann::json h = {{"connections", connected},
                        {"rss_per_connection_bytes", per_conn_total},
                        {"rss_per_connection_excluding_sessions_bytes", per_conn_only},
                        {"heartbeat_interval_ms", o.hb_interval_ms},
                        {"heartbeats_sent", stats.hb_sent},
                        {"acks", stats.hb_acks},
                        {"acks_per_s", static_cast<double>(stats.hb_acks_in_window) / o.duration_s},
                        {"ack_rtt", rtt},
                        {"server_cpu", cpu_server[0].first}};
    out["hold"] = h;
    human << "  server RSS: baseline " << rss["baseline_kb"] << " kB, with sessions "
          << rss["after_sessions_kb"] << " kB, holding " << rss["held_kb"] << " kB";
    if (rss.contains("after_close_kb")) human << ", after close " << rss["after_close_kb"] << " kB";
    human << "\n  RSS per connection: " << fmt(per_conn_total) << " B (with the session directory), "
          << fmt(per_conn_only) << " B (connections only)\n"
          << "  heartbeats: sent " << stats.hb_sent << ", acks " << stats.hb_acks << " ("
          << fmt(static_cast<double>(stats.hb_acks_in_window) / o.duration_s)
          << "/s in the window), ack rtt p50 " << fmt(rtt["p50_us"]) << " us, p99 " << fmt(rtt["p99_us"])
          << " us\n";
  }
  std::cout << human.str();
  const std::string line = out.dump();
  std::cout << line << std::endl;
  if (!o.json_out.empty()) {
    std::ofstream f(o.json_out, std::ios::app);
    f << line << "\n";
  }
  if (child_failed) return 3;
  if (out["connected"].get<std::size_t>() == 0) return 4;
  return 0;
}

}  // namespace
}  // namespace load

int main(int argc, char** argv) {
  using namespace load;
  Options o;
  CLI::App app{"signaling-load: load generator for the signaling server, the floor relay and peerjs-server"};
  std::string protocol = "signaling", mode = "relay", targets = "127.0.0.1:8080", rates, sdp_sizes;
  bool admin_first_only = false, no_cleanup = false, no_stop = false;
  app.add_option("--protocol", protocol, "signaling | floor | peerjs")
      ->check(CLI::IsMember({"signaling", "floor", "peerjs"}));
  app.add_option("--mode", mode, "relay | join | hold")->check(CLI::IsMember({"relay", "join", "hold"}));
  app.add_option("--targets", targets,
                 "host:port[,host:port...]; the members of a session are spread over them");
  app.add_option("--admin-key", o.admin_key, "admin API bearer key");
  app.add_option("--jwt-secret", o.jwt_secret, "HS256 secret for the tokens");
  app.add_flag("--admin-first-only", admin_first_only,
               "create sessions on the first target only (shared store)");
  app.add_option("--session-size", o.session_size, "participants per session");
  app.add_option("--clients", o.clients, "participants (relay: default 400, hold: default 1000)");
  app.add_option("--rates", rates, "relay: offered total msgs/s per step, comma-separated (ascending)");
  app.add_option("--warmup", o.warmup_s, "seconds before each measured window");
  app.add_option("--duration", o.duration_s, "seconds measured (per step)");
  app.add_option("--gap", o.gap_s, "seconds of drain after each step");
  app.add_option("--sdp-every", o.sdp_every,
                 "one message in N is an offer/answer (the others ice-candidates)");
  app.add_option("--sdp-sizes", sdp_sizes, "offer/answer sizes in bytes, comma-separated");
  app.add_option("--ice-size", o.ice_size, "ice-candidate message size in bytes");
  app.add_option("--queue-limit", o.queue_limit, "per-client send backlog before drops");
  app.add_option("--threads", o.threads, "worker threads per client process");
  app.add_option("--processes", o.processes, "client processes (0: as the descriptor limit requires)");
  app.add_option("--source-addrs", o.source_addrs, "bind clients to 127.0.0.2..127.0.0.(N+1) (0: no bind)");
  app.add_option("--connect-rate", o.connect_rate, "connections per second while setting up");
  app.add_option("--connect-timeout", o.connect_timeout_s, "seconds to connect everyone");
  app.add_option("--join-rate", o.join_rate, "join: joins per second");
  app.add_option("--join-hold-ms", o.join_hold_ms, "join: how long a participant stays before leaving");
  app.add_option("--join-sessions", o.join_sessions, "join: sessions to rotate over (0: auto)");
  app.add_option("--hb-interval-ms", o.hb_interval_ms, "hold: heartbeat interval per connection");
  app.add_option("--server-pid", o.server_pid, "server process to sample (VmRSS, CPU)");
  app.add_option("--extra-pids", o.extra_pids,
                 "more processes of the system under test (a second node, redis-server), comma-separated: "
                 "their VmRSS and CPU are added to the server's")
      ->delimiter(',');
  app.add_option("--prefix", o.prefix, "id prefix of sessions and participants (default: random)");
  app.add_flag("--no-cleanup", no_cleanup, "keep the sessions (no DELETE at the end)");
  app.add_option("--json-out", o.json_out, "also append the JSON line to this file");
  app.add_option("--label", o.label, "free text copied into the JSON");
  app.add_option("--peerjs-key", o.peerjs_key, "peerjs-server key");
  app.add_option("--sustain-ratio", o.sustain_ratio, "relay: min delivered/offered for a sustained step");
  app.add_option("--sustain-p99-ms", o.sustain_p99_ms,
                 "relay: max p99 latency for a sustained step (0: none)");
  app.add_option("--sustain-p50-ms", o.sustain_p50_ms,
                 "relay: max median latency for a sustained step (0: none)");
  app.add_flag("--no-stop-when-saturated", no_stop, "run every step even after saturation");
  app.add_flag("-v,--verbose", o.verbose, "log the first failures");
  CLI11_PARSE(app, argc, argv);
  try {
    o.protocol = protocol == "signaling" ? Protocol::signaling
                 : protocol == "floor"   ? Protocol::floor
                                         : Protocol::peerjs;
    o.mode = mode == "relay" ? Mode::relay : mode == "join" ? Mode::join : Mode::hold;
    for (const auto& t : split(targets, ','))
      o.targets.push_back(parse_endpoint(t));
    for (const auto& r : split(rates, ','))
      o.rates.push_back(std::stod(r));
    if (!sdp_sizes.empty()) {
      o.sdp_sizes.clear();
      for (const auto& s : split(sdp_sizes, ','))
        o.sdp_sizes.push_back(static_cast<std::size_t>(std::stoul(s)));
    }
    o.admin_all_targets = !admin_first_only;
    o.cleanup = !no_cleanup;
    o.stop_when_saturated = !no_stop;
    std::signal(SIGPIPE, SIG_IGN);
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "signaling-load: %s\n", e.what());
    return 2;
  }
}
