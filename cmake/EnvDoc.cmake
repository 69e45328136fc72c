# docs/ENV.md is generated from src/env/env.def by gen_env_doc, which also
# checks the table (defaults within range, enum words match the range).
#   cmake --build build --target env_doc   regenerates docs/ENV.md in the source tree
#   ctest -R docs.env_md_in_sync           fails while the checked-in file is stale
# Neither needs the allocator library.

add_executable(gen_env_doc ${PROJECT_SOURCE_DIR}/src/env/gen_env_doc.c)

add_custom_target(env_doc
  COMMAND gen_env_doc ${PROJECT_SOURCE_DIR}/docs/ENV.md
  COMMENT "Generating docs/ENV.md from src/env/env.def"
  VERBATIM)

if(BUILD_TESTING)
  add_test(NAME docs.env_md_in_sync
    COMMAND gen_env_doc --check ${PROJECT_SOURCE_DIR}/docs/ENV.md)
endif()
