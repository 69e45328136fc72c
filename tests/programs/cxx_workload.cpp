// A C++ workload with deterministic output, built without hakmem and run
// under LD_PRELOAD by run_cxx.sh, which compares its output with a run
// without hakmem.  Everything goes through operator new/delete: containers,
// string growth, shared_ptr, objects made on one thread and destroyed on
// another, exceptions (whose objects libstdc++ allocates with malloc).
// Nothing printed depends on addresses or on the order threads run in.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <iomanip>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace
{

// ------------------------------------------------------------ helpers

// FNV-1a over bytes: a digest of what was built, to print instead of it.
struct digest {
    std::uint64_t h = 1469598103934665603ull;
    void add(const void *p, std::size_t n)
    {
        const unsigned char *b = static_cast<const unsigned char *>(p);
        for (std::size_t i = 0; i < n; i++) {
            h ^= b[i];
            h *= 1099511628211ull;
        }
    }
    void add(const std::string &s) { add(s.data(), s.size()); }
    void add(std::uint64_t v) { add(&v, sizeof(v)); }
};

// A small deterministic generator (xorshift64*), one per thread.
struct rng {
    std::uint64_t s;
    explicit rng(std::uint64_t seed) : s(seed * 2654435761u + 1) {}
    std::uint64_t next()
    {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 2685821657736338717ull;
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

// Sizes from every tier: tiny (<= 1 KiB), mid (<= 32 KiB), pool (<= 1 MiB),
// and now and then large.
std::size_t pick_size(rng &r)
{
    switch (r.below(16)) {
    case 0:
        return 1024 + r.below(31 * 1024);
    case 1:
        return 32 * 1024 + r.below(300 * 1024);
    case 2:
        return r.below(64) == 0 ? 1200 * 1024 + r.below(1024 * 1024) : 2048 + r.below(2048);
    default:
        return 1 + r.below(1024);
    }
}

std::string fill(std::size_t n, std::uint64_t tag)
{
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; i++)
        s[i] = static_cast<char>('a' + (tag + i * 7) % 26);
    return s;
}

void section(const std::string &name, const digest &d, std::uint64_t count)
{
    std::cout << std::left << std::setw(16) << name << " count=" << count << " digest=" << std::hex
              << d.h << std::dec << '\n';
}

// ------------------------------------------------------------ containers

void containers()
{
    rng r(1);
    std::vector<std::string> v;
    for (int i = 0; i < 60000; i++)
        v.push_back(fill(pick_size(r) % 4096, i));
    std::sort(v.begin(), v.end());
    digest dv;
    for (const auto &s : v)
        dv.add(s);
    section("vector<string>", dv, v.size());

    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 50000; i++)
        m["key" + std::to_string(r.below(8000))].push_back(i);
    digest dm;
    for (const auto &kv : m) {
        dm.add(kv.first);
        dm.add(kv.second.size());
        dm.add(std::accumulate(kv.second.begin(), kv.second.end(), std::uint64_t{0}));
    }
    for (int i = 0; i < 8000; i += 3)
        m.erase("key" + std::to_string(i));
    section("map", dm, m.size());

    std::unordered_map<std::uint64_t, std::string> um;
    for (int i = 0; i < 80000; i++) {
        std::uint64_t k = r.below(30000);
        auto it = um.find(k);
        if (it == um.end())
            um.emplace(k, fill(1 + r.below(200), k));
        else if (i % 3 == 0)
            um.erase(it);
        else
            it->second += fill(r.below(100), i);
    }
    std::vector<std::uint64_t> keys;
    for (const auto &kv : um)
        keys.push_back(kv.first);
    std::sort(keys.begin(), keys.end());
    digest du;
    for (auto k : keys) {
        du.add(k);
        du.add(um[k]);
    }
    section("unordered_map", du, um.size());

    std::list<std::vector<double>> l;
    std::deque<std::set<int>> dq;
    for (int i = 0; i < 20000; i++) {
        l.emplace_back(r.below(300), i * 0.5);
        dq.emplace_back();
        for (int j = 0; j < i % 17; j++)
            dq.back().insert(static_cast<int>(r.below(1000)));
        if (i % 5 == 0) {
            l.pop_front();
            dq.pop_front();
        }
    }
    digest dl;
    for (const auto &x : l)
        dl.add(x.size());
    for (const auto &x : dq)
        for (int y : x)
            dl.add(static_cast<std::uint64_t>(y));
    section("list/deque/set", dl, l.size() + dq.size());
}

// ------------------------------------------------------------ strings

void strings()
{
    // One string grown by appends through every tier, then shrunk.
    std::string grow;
    digest d;
    for (int i = 0; i < 40000; i++) {
        grow += std::to_string(i);
        grow.push_back(',');
        if (i % 4096 == 0)
            d.add(grow.size());
    }
    d.add(grow);
    grow.resize(1000);
    grow.shrink_to_fit();
    d.add(grow);
    section("string growth", d, grow.size());

    std::ostringstream os;
    for (int i = 0; i < 30000; i++)
        os << "line " << i << ": " << std::setprecision(6) << i / 7.0 << '\n';
    std::string text = os.str();
    std::istringstream is(text);
    std::string word;
    digest dw;
    std::uint64_t words = 0;
    while (is >> word) {
        dw.add(word);
        words++;
    }
    section("stringstream", dw, words);
}

// ------------------------------------------------------------ shared_ptr

struct node {
    std::string payload;
    std::vector<std::shared_ptr<node>> children;
    std::weak_ptr<node> parent;
    node(std::size_t n, std::uint64_t tag) : payload(fill(n, tag)) {}
};

std::uint64_t walk(const std::shared_ptr<node> &n, digest &d)
{
    d.add(n->payload);
    std::uint64_t count = 1;
    for (const auto &c : n->children)
        count += walk(c, d);
    return count;
}

void shared_pointers()
{
    rng r(2);
    auto root = std::make_shared<node>(10, 0);
    std::vector<std::shared_ptr<node>> all{root};
    for (int i = 1; i < 30000; i++) {
        auto parent = all[r.below(all.size())];
        auto child = std::make_shared<node>(pick_size(r) % 2000, i);
        child->parent = parent;
        parent->children.push_back(child);
        all.push_back(std::move(child));
    }
    for (std::size_t i = 3; i < all.size(); i += 7)
        all[i]->children.clear();
    all.clear();
    digest d;
    std::uint64_t n = walk(root, d);
    section("shared_ptr tree", d, n);
}

// ------------------------------------------------------------ threads

// A bounded queue of owned messages: a producer allocates, a consumer on
// another thread reads and frees (cross-thread frees in every tier).
struct message {
    std::uint64_t seq;
    std::string body;
    std::shared_ptr<std::vector<std::uint64_t>> shared;
};

class channel
{
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::unique_ptr<message>> q;
    bool closed = false;

  public:
    void send(std::unique_ptr<message> m)
    {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return q.size() < 256; });
        q.push_back(std::move(m));
        cv.notify_all();
    }
    void close()
    {
        std::lock_guard<std::mutex> lock(mu);
        closed = true;
        cv.notify_all();
    }
    std::unique_ptr<message> receive()
    {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !q.empty() || closed; });
        if (q.empty())
            return nullptr;
        auto m = std::move(q.front());
        q.pop_front();
        cv.notify_all();
        return m;
    }
};

void threads()
{
    const int pairs = 4, per_producer = 2500;
    std::vector<channel> channels(pairs);
    std::vector<std::uint64_t> sums(pairs), bytes(pairs);
    auto table = std::make_shared<std::vector<std::uint64_t>>(1000, 3);
    std::vector<std::thread> ts;
    for (int p = 0; p < pairs; p++) {
        ts.emplace_back([&, p] {
            rng r(100 + p);
            for (int i = 0; i < per_producer; i++) {
                auto m = std::make_unique<message>();
                m->seq = static_cast<std::uint64_t>(i);
                m->body = fill(pick_size(r), p * 1000003 + i);
                m->shared = table;
                channels[p].send(std::move(m));
            }
            channels[p].close();
        });
        ts.emplace_back([&, p] {
            digest d;
            std::uint64_t n = 0;
            while (auto m = channels[p].receive()) {
                d.add(m->seq);
                d.add(m->body);
                n += m->body.size() + (*m->shared)[m->seq % 1000];
            }
            sums[p] = d.h;
            bytes[p] = n;
        });
    }
    for (auto &t : ts)
        t.join();
    for (int p = 0; p < pairs; p++)
        std::cout << "thread pair " << p << ": bytes=" << bytes[p] << " digest=" << std::hex
                  << sums[p] << std::dec << '\n';
    std::cout << "shared table use_count after join: " << table.use_count() << '\n';

    // Threads that each build a container and hand it back to main, which
    // frees it.
    std::vector<std::unique_ptr<std::map<int, std::string>>> results(6);
    std::vector<std::thread> builders;
    for (int t = 0; t < 6; t++)
        builders.emplace_back([&results, t] {
            auto m = std::make_unique<std::map<int, std::string>>();
            rng r(200 + t);
            for (int i = 0; i < 5000; i++)
                (*m)[static_cast<int>(r.below(100000))] = fill(r.below(3000), i);
            results[t] = std::move(m);
        });
    for (auto &t : builders)
        t.join();
    digest d;
    std::uint64_t n = 0;
    for (auto &m : results) {
        for (const auto &kv : *m) {
            d.add(static_cast<std::uint64_t>(kv.first));
            d.add(kv.second);
        }
        n += m->size();
        m.reset();
    }
    section("thread maps", d, n);
}

// ------------------------------------------------------------ exceptions

struct workload_error : std::runtime_error {
    std::vector<std::string> trail;
    workload_error(const std::string &what, std::size_t n)
        : std::runtime_error(what), trail(n, what)
    {
    }
};

struct guard {
    std::string &log;
    std::string name;
    guard(std::string &l, std::string n) : log(l), name(std::move(n)) {}
    ~guard() { log += "~" + name + ";"; }
};

int dive(int depth, int throw_at, std::string &log)
{
    guard g(log, "frame" + std::to_string(depth));
    std::vector<std::string> local(depth % 5, fill(100 + depth * 10, depth));
    if (depth == throw_at) {
        if (throw_at % 3 == 0)
            throw workload_error("error at depth " + std::to_string(depth), depth);
        if (throw_at % 3 == 1)
            throw std::out_of_range(fill(2000 + depth, depth));
        throw depth;
    }
    return dive(depth + 1, throw_at, log) + static_cast<int>(local.size());
}

void exceptions()
{
    digest d;
    std::uint64_t caught = 0;
    for (int round = 0; round < 3000; round++) {
        std::string log;
        try {
            dive(0, 5 + round % 40, log);
        } catch (const workload_error &e) {
            d.add(std::string(e.what()));
            d.add(e.trail.size());
            caught++;
        } catch (const std::exception &e) {
            d.add(std::string(e.what()).size());
            caught++;
        } catch (int depth) {
            d.add(static_cast<std::uint64_t>(depth));
            caught++;
        }
        d.add(log);
    }
    // Exceptions thrown on worker threads and carried back to main.
    std::vector<std::exception_ptr> errors(4);
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++)
        ts.emplace_back([&errors, t] {
            try {
                std::string log;
                dive(0, 10 + t, log);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    for (auto &t : ts)
        t.join();
    for (auto &e : errors) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception &x) {
            d.add(std::string(x.what()).size());
            caught++;
        } catch (int depth) {
            d.add(static_cast<std::uint64_t>(depth));
            caught++;
        }
    }
    section("exceptions", d, caught);
}

} // namespace

int main()
{
    std::ios::sync_with_stdio(false);
    containers();
    strings();
    shared_pointers();
    threads();
    exceptions();
    std::cout << "done\n";
    return 0;
}
