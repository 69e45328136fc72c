# docs/STATS.md is generated from src/stats/counters.def by gen_stats_doc,
# which also checks the table (one-line meanings, known units, no key written
# twice into one object of the dump).
#   cmake --build build --target stats_doc   regenerates docs/STATS.md in the source tree
#   ctest -R docs.stats_md_in_sync           fails while the checked-in file is stale
# Neither needs the allocator library.

add_executable(gen_stats_doc ${PROJECT_SOURCE_DIR}/src/stats/gen_stats_doc.c)

add_custom_target(stats_doc
  COMMAND gen_stats_doc ${PROJECT_SOURCE_DIR}/docs/STATS.md
  COMMENT "Generating docs/STATS.md from src/stats/counters.def"
  VERBATIM)

if(BUILD_TESTING)
  add_test(NAME docs.stats_md_in_sync
    COMMAND gen_stats_doc --check ${PROJECT_SOURCE_DIR}/docs/STATS.md)
endif()
