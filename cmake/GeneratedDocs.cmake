# docs/ENV.md and docs/STATS.md are generated from their tables (env.def,
# counters.def) by small programs that also check the tables:
#   cmake --build build --target env_doc     regenerates docs/ENV.md
#   cmake --build build --target stats_doc   regenerates docs/STATS.md
#   ctest -R docs.                           fails while a checked-in file is stale
# None of this needs the allocator library.

# hak_generated_doc(NAME GENERATOR_SOURCE DOCUMENT TABLE): the generator
# gen_NAME, the target NAME_doc, and the test docs.<document>_in_sync.
function(hak_generated_doc name source document table)
  add_executable(gen_${name}_doc ${PROJECT_SOURCE_DIR}/${source} ${PROJECT_SOURCE_DIR}/src/docgen.c)
  add_custom_target(${name}_doc
    COMMAND gen_${name}_doc ${PROJECT_SOURCE_DIR}/${document}
    COMMENT "Generating ${document} from ${table}"
    VERBATIM)
  if(BUILD_TESTING)
    string(TOLOWER ${name} lower)
    add_test(NAME docs.${lower}_md_in_sync
      COMMAND gen_${name}_doc --check ${PROJECT_SOURCE_DIR}/${document})
  endif()
endfunction()

hak_generated_doc(env src/env/gen_env_doc.c docs/ENV.md src/env/env.def)
hak_generated_doc(stats src/stats/gen_stats_doc.c docs/STATS.md src/stats/counters.def)
