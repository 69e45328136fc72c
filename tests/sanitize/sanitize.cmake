# Included by the top-level CMakeLists.txt, before any target, when
# HAKMEM_SANITIZE names a sanitizer: every object of that build (the
# allocator, the tools, the tests) is compiled for it, so no uninstrumented
# code hides a race or a bad access, and the first finding fails the run.
# Such a build registers the tests of tests/sanitize/CMakeLists.txt instead
# of the usual ones (see there for why).
set(HAK_SANITIZERS thread undefined address)
if(NOT HAKMEM_SANITIZE IN_LIST HAK_SANITIZERS)
  message(FATAL_ERROR "HAKMEM_SANITIZE=${HAKMEM_SANITIZE}: expected one of ${HAK_SANITIZERS}")
endif()
add_compile_options(-fsanitize=${HAKMEM_SANITIZE} -fno-sanitize-recover=all
  -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=${HAKMEM_SANITIZE})
