/*
 * C++ allocation goes through hakmem: operator new/delete (plain, array,
 * nothrow, sized, over-aligned) land in blocks hakmem owns, and the standard
 * containers work on top of them, also across threads.
 */
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

extern "C" {
#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>
}

#include "hakmem.h"

namespace
{

bool aligned_to(const void *p, std::size_t a)
{
    return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0;
}

struct alignas(64) cache_line {
    unsigned char bytes[64];
};

struct alignas(4096) page {
    unsigned char bytes[4096];
};

struct alignas(256 * 1024) big_aligned {
    unsigned char bytes[1000];
};

volatile std::size_t huge_count = SIZE_MAX / 16;

void test_new_delete_are_hakmem(void **)
{
    const std::size_t sizes[] = {1, 16, 100, 1024, 1025, 32768, 40000, 1u << 20, 3u << 20};
    for (std::size_t n : sizes) {
        char *p = new char[n];
        assert_int_equal(hak_owns(p), 1);
        assert_true(aligned_to(p, 16));
        std::memset(p, 0x7E, n);
        delete[] p;

        void *q = ::operator new(n);
        assert_int_equal(hak_owns(q), 1);
        ::operator delete(q, n); /* sized delete */

        q = ::operator new(n, std::nothrow);
        assert_non_null(q);
        assert_int_equal(hak_owns(q), 1);
        ::operator delete(q, std::nothrow);
    }
    int *one = new int(42);
    assert_int_equal(hak_owns(one), 1);
    assert_int_equal(*one, 42);
    delete one;
}

void test_over_aligned_new(void **)
{
    for (int i = 0; i < 100; i++) {
        auto *c = new cache_line;
        auto *pg = new page;
        auto *big = new big_aligned;
        auto *arr = new cache_line[17];
        assert_true(aligned_to(c, 64));
        assert_true(aligned_to(pg, 4096));
        assert_true(aligned_to(big, 256 * 1024));
        assert_true(aligned_to(arr, 64));
        assert_int_equal(hak_owns(c), 1);
        assert_int_equal(hak_owns(pg), 1);
        assert_int_equal(hak_owns(big), 1);
        assert_int_equal(hak_owns(arr), 1);
        std::memset(pg->bytes, 1, sizeof pg->bytes);
        std::memset(big->bytes, 2, sizeof big->bytes);
        delete c;
        delete pg;
        delete big;
        delete[] arr;
    }
    void *p = ::operator new(5000, std::align_val_t(1u << 20));
    assert_true(aligned_to(p, 1u << 20));
    assert_int_equal(hak_owns(p), 1);
    ::operator delete(p, std::align_val_t(1u << 20));
}

void test_failed_new(void **)
{
    bool threw = false;
    try {
        char *p = new char[huge_count * 15];
        p[0] = 1;
        delete[] p;
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    assert_true(threw);
    void *q = ::operator new(huge_count * 15, std::nothrow);
    assert_null(q);
}

void test_containers(void **)
{
    std::map<std::string, std::vector<int>> m;
    std::unordered_map<int, std::string> u;
    for (int i = 0; i < 20000; i++) {
        std::string key = "key-" + std::to_string(i * 7919 % 20000);
        m[key].push_back(i);
        u[i] = std::string(static_cast<std::size_t>(i % 300), static_cast<char>('a' + i % 26));
    }
    assert_int_equal(m.size(), 20000);
    long sum = 0;
    for (const auto &kv : m)
        for (int v : kv.second)
            sum += v;
    assert_int_equal(sum, 20000L * 19999 / 2);
    for (int i = 0; i < 20000; i += 97)
        assert_int_equal(u[i].size(), static_cast<std::size_t>(i % 300));
    std::vector<std::unique_ptr<std::string>> v;
    for (int i = 0; i < 5000; i++)
        v.push_back(std::make_unique<std::string>(static_cast<std::size_t>(i), 'x'));
    assert_int_equal(hak_owns(v.data()), 1);
    assert_int_equal(v[4999]->size(), 4999);
}

/* Objects created on one thread and destroyed on another. */
void test_cross_thread_delete(void **)
{
    std::vector<std::vector<std::string> *> made(8);
    std::thread producer([&made] {
        for (std::size_t k = 0; k < made.size(); k++) {
            auto *vec = new std::vector<std::string>;
            for (int i = 0; i < 2000; i++)
                vec->push_back(std::string(static_cast<std::size_t>(i % 200 + 20), 'q'));
            made[k] = vec;
        }
    });
    producer.join();
    long bad = 0;
    std::thread consumer([&made, &bad] {
        for (auto *vec : made) {
            for (std::size_t i = 0; i < vec->size(); i++)
                if ((*vec)[i] != std::string(i % 200 + 20, 'q'))
                    bad++;
            delete vec;
        }
    });
    consumer.join();
    assert_int_equal(bad, 0);
}

} // namespace

int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_delete_are_hakmem),
        cmocka_unit_test(test_over_aligned_new),
        cmocka_unit_test(test_failed_new),
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_cross_thread_delete),
    };
    return cmocka_run_group_tests_name("integration.cxx", tests, nullptr, nullptr);
}
