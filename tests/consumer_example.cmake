# Installs medkern to a scratch prefix, then configures, builds and runs examples/cpp against
# it exactly as a downstream project would (find_package, plain -O2, warnings as errors).
file(REMOVE_RECURSE ${BINARY_DIR})
set(prefix ${BINARY_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR}/lib
                        -DCMAKE_INSTALL_PREFIX=${prefix} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring medkern for install failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR}/lib RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "installing medkern failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/cpp -B ${BINARY_DIR}/app
                        -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release
                        "-DCMAKE_CXX_FLAGS_RELEASE=-O2" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer example failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR}/app RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer example failed")
endif()
execute_process(COMMAND ${BINARY_DIR}/app/gemm_example RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the consumer example failed (${rc})")
endif()
