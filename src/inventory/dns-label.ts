/**
 * A DNS label (RFC 1123): what site, procedure and namespace names must be, because they
 * become directory names, label values and Kubernetes namespaces. One definition for all.
 */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

