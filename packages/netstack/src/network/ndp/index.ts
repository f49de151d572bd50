export { Ndp, type NdpOptions } from "./ndp.js";
