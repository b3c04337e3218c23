// shader_stats: compiles SPIR-V compute shaders with a Vulkan driver and prints what its compiler reports
// about each (VK_KHR_pipeline_executable_properties), one JSON line per shader:
//   {"file":"k.spv","device":"Null hardware (RADV NAVI21)","driver":"Mesa 22.3.6","executable":"Compute Shader",
//    "subgroup_size":64,"stats":{"SGPRs":128,"VGPRs":48,"Spilled SGPRs":0,...}}
// or {"file":"k.spv","error":"..."}; exit status 1 if any shader failed. Meant for Mesa's RADV with no GPU
// (the caller sets RADV_FORCE_FAMILY=navi21 and VK_ICD_FILENAMES to the radeon ICD): RADV then compiles with
// AMD's production compiler (ACO) for that chip, without hardware.
//   usage: shader_stats FILE.spv ...
// The pipeline layout is read from each shader (its buffer bindings: storage or uniform), so one program
// takes any compute shader Dawn's SPIR-V writer makes. Every feature the device supports is enabled, so a
// capability the shader declares (16-bit storage, the Vulkan memory model) is never refused.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>

#define MAX_BINDINGS 64
#define MAX_SETS 4

static void fail(const char *what, VkResult r) {
  fprintf(stderr, "shader_stats: %s failed (VkResult %d)\n", what, r);
  exit(2);
}

static uint32_t *read_file(const char *path, size_t *words) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (size <= 0 || size % 4) {
    fclose(f);
    return NULL;
  }
  uint32_t *data = malloc((size_t)size);
  size_t got = fread(data, 1, (size_t)size, f);
  fclose(f);
  if (got != (size_t)size) {
    free(data);
    return NULL;
  }
  *words = (size_t)size / 4;
  return data;
}

// What a shader needs from its pipeline: its entry point and each descriptor binding's set, number and type.
struct reflection {
  char entry[64];
  struct {
    uint32_t set, binding;
    VkDescriptorType type;
  } bindings[MAX_BINDINGS];
  uint32_t count;
};

// SPIR-V opcodes, decorations and storage classes this reflection reads (SPIR-V specification, section 3).
enum { OP_ENTRY_POINT = 15, OP_VARIABLE = 59, OP_DECORATE = 71 };
enum { DECORATION_BINDING = 33, DECORATION_DESCRIPTOR_SET = 34 };
enum { STORAGE_UNIFORM = 2, STORAGE_BUFFER = 12 };

static const char *reflect(const uint32_t *code, size_t words, struct reflection *out) {
  if (words < 5 || code[0] != 0x07230203) return "not a SPIR-V binary (bad magic number)";
  uint32_t bound = code[3];
  // Per id: its set and binding decorations (UINT32_MAX: none). Decorations come before the variables.
  uint32_t *set = malloc(bound * sizeof *set), *binding = malloc(bound * sizeof *binding);
  for (uint32_t i = 0; i < bound; i++) set[i] = binding[i] = UINT32_MAX;
  memset(out, 0, sizeof *out);
  const char *error = NULL;
  for (size_t i = 5; i < words;) {
    uint32_t op = code[i] & 0xffff, length = code[i] >> 16;
    if (length == 0 || i + length > words) {
      error = "truncated instruction";
      break;
    }
    const uint32_t *w = code + i;
    if (op == OP_ENTRY_POINT && length > 3 && !out->entry[0]) {
      strncpy(out->entry, (const char *)(w + 3), sizeof out->entry - 1);
    } else if (op == OP_DECORATE && length >= 4 && w[1] < bound) {
      if (w[2] == DECORATION_DESCRIPTOR_SET) set[w[1]] = w[3];
      if (w[2] == DECORATION_BINDING) binding[w[1]] = w[3];
    } else if (op == OP_VARIABLE && length >= 4 && w[2] < bound && set[w[2]] != UINT32_MAX && binding[w[2]] != UINT32_MAX) {
      uint32_t storage = w[3];
      if (storage != STORAGE_UNIFORM && storage != STORAGE_BUFFER) {
        error = "a binding that is not a buffer (textures and samplers are not handled)";
        break;
      }
      if (set[w[2]] >= MAX_SETS || out->count == MAX_BINDINGS) {
        error = "too many bindings or descriptor sets";
        break;
      }
      out->bindings[out->count].set = set[w[2]];
      out->bindings[out->count].binding = binding[w[2]];
      out->bindings[out->count].type = storage == STORAGE_BUFFER ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
      out->count++;
    }
    i += length;
  }
  if (!error && !out->entry[0]) error = "no entry point";
  free(set);
  free(binding);
  return error;
}

static void print_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

static void print_error(const char *path, const char *message, VkResult r) {
  printf("{\"file\":");
  print_json_string(path);
  printf(",\"error\":");
  char text[256];
  snprintf(text, sizeof text, r ? "%s (VkResult %d)" : "%s", message, r);
  print_json_string(text);
  printf("}\n");
}

// Compiles one shader and prints its statistics; returns 0, or 1 on failure (printed as an error line).
static int compile(VkDevice device, const char *device_name, const char *driver, const char *path) {
  size_t words = 0;
  uint32_t *code = read_file(path, &words);
  if (!code) {
    print_error(path, "cannot read it, or it is not a whole number of 32-bit words", 0);
    return 1;
  }
  struct reflection shader;
  const char *bad = reflect(code, words, &shader);
  if (bad) {
    print_error(path, bad, 0);
    free(code);
    return 1;
  }
  int status = 1;
  VkShaderModule module = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkDescriptorSetLayout sets[MAX_SETS] = {0};
  uint32_t set_count = 0;
  for (uint32_t b = 0; b < shader.count; b++)
    if (shader.bindings[b].set + 1 > set_count) set_count = shader.bindings[b].set + 1;

  VkShaderModuleCreateInfo module_info = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, NULL, 0, words * 4, code};
  VkResult r = vkCreateShaderModule(device, &module_info, NULL, &module);
  if (r) {
    print_error(path, "vkCreateShaderModule", r);
    goto done;
  }
  for (uint32_t s = 0; s < set_count; s++) {
    VkDescriptorSetLayoutBinding entries[MAX_BINDINGS];
    uint32_t n = 0;
    for (uint32_t b = 0; b < shader.count; b++) {
      if (shader.bindings[b].set != s) continue;
      entries[n++] = (VkDescriptorSetLayoutBinding){shader.bindings[b].binding, shader.bindings[b].type, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL};
    }
    VkDescriptorSetLayoutCreateInfo set_info = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, NULL, 0, n, entries};
    r = vkCreateDescriptorSetLayout(device, &set_info, NULL, &sets[s]);
    if (r) {
      print_error(path, "vkCreateDescriptorSetLayout", r);
      goto done;
    }
  }
  VkPipelineLayoutCreateInfo layout_info = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, NULL, 0, set_count, sets, 0, NULL};
  r = vkCreatePipelineLayout(device, &layout_info, NULL, &layout);
  if (r) {
    print_error(path, "vkCreatePipelineLayout", r);
    goto done;
  }
  VkComputePipelineCreateInfo pipeline_info = {
      .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
      .flags = VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR,
      .stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, NULL, 0, VK_SHADER_STAGE_COMPUTE_BIT, module, shader.entry, NULL},
      .layout = layout,
  };
  r = vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &pipeline_info, NULL, &pipeline);
  if (r) {
    print_error(path, "vkCreateComputePipelines", r);
    goto done;
  }

  PFN_vkGetPipelineExecutablePropertiesKHR get_executables = (PFN_vkGetPipelineExecutablePropertiesKHR)vkGetDeviceProcAddr(device, "vkGetPipelineExecutablePropertiesKHR");
  PFN_vkGetPipelineExecutableStatisticsKHR get_statistics = (PFN_vkGetPipelineExecutableStatisticsKHR)vkGetDeviceProcAddr(device, "vkGetPipelineExecutableStatisticsKHR");
  VkPipelineInfoKHR which = {VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, NULL, pipeline};
  uint32_t executables = 0;
  get_executables(device, &which, &executables, NULL);
  VkPipelineExecutablePropertiesKHR properties[4];
  if (executables > 4) executables = 4;
  for (uint32_t e = 0; e < executables; e++) properties[e] = (VkPipelineExecutablePropertiesKHR){.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR};
  get_executables(device, &which, &executables, properties);
  for (uint32_t e = 0; e < executables; e++) {
    VkPipelineExecutableInfoKHR executable = {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, NULL, pipeline, e};
    uint32_t count = 0;
    get_statistics(device, &executable, &count, NULL);
    VkPipelineExecutableStatisticKHR *stats = calloc(count ? count : 1, sizeof *stats);
    for (uint32_t i = 0; i < count; i++) stats[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
    get_statistics(device, &executable, &count, stats);
    printf("{\"file\":");
    print_json_string(path);
    printf(",\"device\":");
    print_json_string(device_name);
    printf(",\"driver\":");
    print_json_string(driver);
    printf(",\"executable\":");
    print_json_string(properties[e].name);
    printf(",\"subgroup_size\":%u,\"stats\":{", properties[e].subgroupSize);
    for (uint32_t i = 0; i < count; i++) {
      if (i) putchar(',');
      print_json_string(stats[i].name);
      putchar(':');
      switch (stats[i].format) {
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: printf("%s", stats[i].value.b32 ? "true" : "false"); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: printf("%lld", (long long)stats[i].value.i64); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: printf("%llu", (unsigned long long)stats[i].value.u64); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: printf("%.17g", stats[i].value.f64); break;
        default: printf("null");
      }
    }
    printf("}}\n");
    free(stats);
  }
  status = executables ? 0 : 1;
  if (!executables) print_error(path, "the driver reported no executable", 0);

done:
  fflush(stdout);
  if (pipeline) vkDestroyPipeline(device, pipeline, NULL);
  if (layout) vkDestroyPipelineLayout(device, layout, NULL);
  for (uint32_t s = 0; s < set_count; s++)
    if (sets[s]) vkDestroyDescriptorSetLayout(device, sets[s], NULL);
  if (module) vkDestroyShaderModule(device, module, NULL);
  free(code);
  return status;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: shader_stats FILE.spv ...\n");
    return 2;
  }
  VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO, NULL, "shader_stats", 1, NULL, 0, VK_API_VERSION_1_2};
  VkInstanceCreateInfo instance_info = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, NULL, 0, &app, 0, NULL, 0, NULL};
  VkInstance instance;
  VkResult r = vkCreateInstance(&instance_info, NULL, &instance);
  if (r) fail("vkCreateInstance", r);
  uint32_t count = 1;
  VkPhysicalDevice physical;
  r = vkEnumeratePhysicalDevices(instance, &count, &physical);
  if ((r && r != VK_INCOMPLETE) || count == 0) {
    fprintf(stderr, "shader_stats: no Vulkan device (for RADV with no GPU: RADV_FORCE_FAMILY=navi21 and VK_ICD_FILENAMES=<radeon_icd.json>)\n");
    return 2;
  }
  VkPhysicalDeviceDriverProperties driver = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceProperties2 properties = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &driver};
  vkGetPhysicalDeviceProperties2(physical, &properties);
  const char *device_name = properties.properties.deviceName;

  // Every feature the device has, enabled (the same chain is queried, then passed to vkCreateDevice).
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR executable_features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
  VkPhysicalDeviceVulkan12Features features12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, .pNext = &executable_features};
  VkPhysicalDeviceVulkan11Features features11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &features12};
  VkPhysicalDeviceFeatures2 features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &features11};
  vkGetPhysicalDeviceFeatures2(physical, &features);
  if (!executable_features.pipelineExecutableInfo) {
    fprintf(stderr, "shader_stats: %s has no VK_KHR_pipeline_executable_properties: it cannot report shader statistics\n", device_name);
    return 2;
  }
  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, NULL, 0, 0, 1, &priority};
  const char *extensions[] = {VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME};
  VkDeviceCreateInfo device_info = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &features, 0, 1, &queue, 0, NULL, 1, extensions, NULL};
  VkDevice device;
  r = vkCreateDevice(physical, &device_info, NULL, &device);
  if (r) fail("vkCreateDevice", r);

  int failed = 0;
  for (int i = 1; i < argc; i++) failed |= compile(device, device_name, driver.driverInfo, argv[i]);
  vkDestroyDevice(device, NULL);
  vkDestroyInstance(instance, NULL);
  return failed;
}
