# docs/ENV.md and docs/STATS.md are generated from their tables (env.def,
# counters.def) by small programs that also check the tables:
#   cmake --build build --target env_doc     regenerates docs/ENV.md
#   cmake --build build --target stats_doc   regenerates docs/STATS.md
#   ctest -R docs.                           fails while a checked-in file is stale
# None of this needs the allocator library.

# hak_generated_doc(NAME DOCUMENT TABLE): tools/docgen/gen_NAME_doc.c built
# with the table's directory on its include path, the target NAME_doc, and
# the test docs.NAME_md_in_sync.  The generators use stdio and malloc
# freely: they are build tools, kept out of src/, which is the allocator.
function(hak_generated_doc name document table)
  get_filename_component(table_dir ${PROJECT_SOURCE_DIR}/${table} DIRECTORY)
  add_executable(gen_${name}_doc ${PROJECT_SOURCE_DIR}/tools/docgen/gen_${name}_doc.c
    ${PROJECT_SOURCE_DIR}/tools/docgen/docgen.c)
  target_include_directories(gen_${name}_doc PRIVATE ${table_dir} ${PROJECT_SOURCE_DIR}/tools/docgen)
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

hak_generated_doc(env docs/ENV.md src/env/env.def)
hak_generated_doc(stats docs/STATS.md src/stats/counters.def)
