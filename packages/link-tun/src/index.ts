/**
 * @netstack-ts/link-tun: Linux TUN/TAP devices as netstack-ts link endpoints, through a small
 * N-API addon built from source when the package installs.
 */
export { TunEndpoint, TapEndpoint, type TunOptions, type TapOptions, type TunLinkStats } from "./tun.js";
export {
  configureInterface, interfaceMtu, interfaceIsUp, interfaceIndex, interfaceMac, kernelHasIpv6, kernelAddress6State,
  waitKernelAddress6, type InterfaceConfig,
} from "./netif.js";
export { LinkTunError, BUILD_HINT, type LinkTunErrorCode } from "./errors.js";
export { addonBuilt, loadNative, type NativeStats } from "./native.js";
export { EchoServer, type EchoMode, type EchoServerOptions, type EchoServerStats } from "./echo-server.js";
