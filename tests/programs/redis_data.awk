# redis_data.awk: the keys run_redis.sh writes to redis-server and reads
# back, with values of known content in every hakmem tier.  One description,
# four outputs, chosen with -v mode=:
#   write   the writes, in the Redis protocol, for redis-cli --pipe: strings
#           (then a fifth of them overwritten with another size), strings
#           grown by APPEND, lists, hashes and sorted sets
#   delete  DEL of every seventh string, for redis-cli --pipe
#   read    one command per line reading every key back, for redis-cli --raw
#   expect  what redis-cli --raw prints for those commands
#   count   the number of keys left after the deletes
# All keys start with "hk:".  A value is made of 64-byte blocks, each naming
# its key and its own position, so a byte out of place shows as a mismatch.

BEGIN {
  n_strings = 2000; n_appends = 200; n_lists = 100; n_hashes = 100; n_zsets = 50
  # Sizes around every boundary that matters to an allocator or to Redis
  # (embstr at 44 bytes, hakmem's tiers at 1 KiB, 32 KiB and 1 MiB).
  n_small = split("1 3 8 15 16 17 24 31 32 33 44 45 48 63 64 65 100 127 128 200 255 256 257 500 " \
        "511 512 513 1000 1023 1024 1025 1500 2048 3000 4096 5000 8192 10000 16384 " \
        "20000 30000 32767 32768 32769 50000", small, " ")
  split("40000 200000 300000 1048577", big, " ")
  filler = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_abcdefghijklmnop"

  if (mode == "write") write_all()
  else if (mode == "delete") delete_all()
  else if (mode == "read") read_all()
  else if (mode == "expect") expect_all()
  else if (mode == "count") print n_strings - n_deleted() + n_appends + n_lists + n_hashes + n_zsets
  else { print "redis_data.awk: mode must be write, delete, read, expect or count" > "/dev/stderr"; exit 2 }
}

# ------------------------------------------------------------ the data

function string_size(i) { return i % 100 == 99 ? big[1 + int(i / 100) % 4] : small[1 + i % n_small] }
function rewritten(i) { return i % 5 == 1 }
function deleted(i) { return i % 7 == 3 }
function n_deleted(   i, n) { for (i = 0; i < n_strings; i++) n += deleted(i); return n }
function append_size(j, m) { return j % 5 == 0 ? 10 ^ (m + 1) : 7 * (m + 1) + j % 13 }
function list_len(j) { return 20 + j % 40 }
function list_size(j, k) { return 1 + (j * 37 + k * 101) % 3000 }
function hash_len(j) { return 10 + j % 50 }
function hash_size(j, k) { return 1 + (j * 53 + k * 97) % (j % 4 == 0 ? 20000 : 2000) }
function zset_len(j) { return 20 + j * 4 }
# Members must differ: long enough to keep their name whole.
function zset_size(j, k) { return 16 + (j * 13 + k * 7) % 100 }

# value(tag, size): prints the value without building it in memory.
function value(tag, size,   b, block) {
  for (b = 0; size > 0; b++) {
    block = tag "/" b ";"
    block = block substr(filler, 1, 64 - length(block))
    if (size < 64) block = substr(block, 1, size)
    printf "%s", block
    size -= length(block)
  }
}

# ------------------------------------------------------------ protocol

function head(argc) { printf "*%d\r\n", argc }
function bulk(s) { printf "$%d\r\n%s\r\n", length(s), s }
function bulk_value(tag, size) { printf "$%d\r\n", size; value(tag, size); printf "\r\n" }

function write_all(   i, j, k, m) {
  for (i = 0; i < n_strings; i++) {
    head(3); bulk("SET"); bulk("hk:s:" i); bulk_value("s" i, string_size(i))
  }
  for (i = 0; i < n_strings; i++)
    if (rewritten(i)) {
      head(3); bulk("SET"); bulk("hk:s:" i); bulk_value("r" i, string_size(i + 7))
    }
  for (j = 0; j < n_appends; j++)
    for (m = 0; m < 5; m++) {
      head(3); bulk("APPEND"); bulk("hk:a:" j); bulk_value("a" j "." m, append_size(j, m))
    }
  for (j = 0; j < n_lists; j++) {
    head(2 + list_len(j)); bulk("RPUSH"); bulk("hk:l:" j)
    for (k = 0; k < list_len(j); k++) bulk_value("l" j "." k, list_size(j, k))
  }
  for (j = 0; j < n_hashes; j++) {
    head(2 + 2 * hash_len(j)); bulk("HSET"); bulk("hk:h:" j)
    for (k = 0; k < hash_len(j); k++) { bulk("f" k); bulk_value("h" j "." k, hash_size(j, k)) }
  }
  for (j = 0; j < n_zsets; j++) {
    head(2 + 2 * zset_len(j)); bulk("ZADD"); bulk("hk:z:" j)
    for (k = 0; k < zset_len(j); k++) { bulk(k * 3 + j); bulk_value("z" j "." k, zset_size(j, k)) }
  }
}

function delete_all(   i) {
  for (i = 0; i < n_strings; i++)
    if (deleted(i)) { head(2); bulk("DEL"); bulk("hk:s:" i) }
}

# ------------------------------------------------------------ reading back

function read_all(   i, j, k, fields) {
  for (i = 0; i < n_strings; i++) print "GET hk:s:" i
  for (j = 0; j < n_appends; j++) print "GET hk:a:" j
  for (j = 0; j < n_lists; j++) print "LRANGE hk:l:" j " 0 -1"
  for (j = 0; j < n_hashes; j++) {
    fields = ""
    for (k = 0; k < hash_len(j); k++) fields = fields " f" k
    print "HMGET hk:h:" j fields
  }
  for (j = 0; j < n_zsets; j++) print "ZRANGE hk:z:" j " 0 -1 WITHSCORES"
}

# redis-cli --raw prints each value, or each element of an array, on a line
# of its own; a missing key is an empty line.
function expect_all(   i, j, k, m) {
  for (i = 0; i < n_strings; i++) {
    if (deleted(i)) print ""
    else if (rewritten(i)) { value("r" i, string_size(i + 7)); print "" }
    else { value("s" i, string_size(i)); print "" }
  }
  for (j = 0; j < n_appends; j++) {
    for (m = 0; m < 5; m++) value("a" j "." m, append_size(j, m))
    print ""
  }
  for (j = 0; j < n_lists; j++)
    for (k = 0; k < list_len(j); k++) { value("l" j "." k, list_size(j, k)); print "" }
  for (j = 0; j < n_hashes; j++)
    for (k = 0; k < hash_len(j); k++) { value("h" j "." k, hash_size(j, k)); print "" }
  for (j = 0; j < n_zsets; j++)
    for (k = 0; k < zset_len(j); k++) { value("z" j "." k, zset_size(j, k)); print ""; print k * 3 + j }
}
